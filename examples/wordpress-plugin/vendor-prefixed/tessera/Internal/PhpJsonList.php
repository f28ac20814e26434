<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** A JSON array made from a PHP list by {@see Convert::toJson()}. */
final class PhpJsonList
{
    /** @param list<mixed> $items */
    public function __construct(public array $items)
    {
    }
}
