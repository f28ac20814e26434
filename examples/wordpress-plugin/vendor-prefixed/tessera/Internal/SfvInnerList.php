<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** An inner list with parameters (Rust `sfv::InnerList`). */
final class SfvInnerList
{
    /**
     * @param list<SfvItem> $items items in order
     * @param list<array{0: string, 1: SfvBareItem}> $params parameters of the whole list
     */
    public function __construct(public readonly array $items, public readonly array $params = [])
    {
    }
}
