<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * Why a JSON document did not parse: a category and a byte offset, never the
 * input text (Rust `json::ParseError`; the message is its `Display`).
 */
final class JsonParseError extends \Exception
{
    /**
     * @param string $what what was wrong
     * @param int $at byte offset into the input
     */
    public function __construct(public readonly string $what, public readonly int $at)
    {
        parent::__construct("{$what} at byte {$at}");
    }
}
