<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** A member looked up with `JsonValue::get` appears more than once (Rust `json::DuplicateKey`). */
final class JsonDuplicateKey extends \Exception
{
    /** @param string $key the ambiguous member name */
    public function __construct(string $key)
    {
        parent::__construct('duplicate member `' . $key . '`');
    }
}
