<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** A JSON object made from a PHP array by {@see Convert::toJson()}. */
final class PhpJsonMap
{
    /** @param array<string|int, mixed> $map */
    public function __construct(public array $map)
    {
    }
}
