<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** An item with parameters (Rust `sfv::Item`). */
final class SfvItem
{
    /**
     * @param SfvBareItem $bare the value
     * @param list<array{0: string, 1: SfvBareItem}> $params its parameters, in order
     */
    public function __construct(public readonly SfvBareItem $bare, public readonly array $params = [])
    {
    }
}
