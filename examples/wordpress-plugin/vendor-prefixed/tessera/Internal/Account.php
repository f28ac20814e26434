<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * The Stora account a connect completed with (`state::Account`,
 * docs/PROTOCOL.md §5.4.1): hosts show it, so that a round completed with
 * someone else's account is seen at once.
 */
final class Account
{
    /** Longest account id accepted, in characters. */
    public const MAX_ID = 128;
    /** Longest account name accepted, in characters. */
    public const MAX_NAME = 200;

    private function __construct(
        /** Stora's account id: 1-128 characters, no control character. */
        public readonly string $id,
        /** Display name: 0-200 characters, no control character. */
        public readonly string $name,
    ) {
    }

    /**
     * An account as the broker reported it, checked against the profile
     * (`Account::new`). Both strings are valid UTF-8 (the caller's).
     *
     * @throws CoreError callback_invalid
     */
    public static function new(string $id, string $name): self
    {
        $idLen = self::chars($id);
        if ($idLen === 0 || $idLen > self::MAX_ID || self::hasControl($id)) {
            throw CoreError::callbackInvalid('account.id must be 1-128 characters without control characters');
        }
        if (self::chars($name) > self::MAX_NAME || self::hasControl($name)) {
            throw CoreError::callbackInvalid('account.name must be 0-200 characters without control characters');
        }
        return new self($id, $name);
    }

    public function equals(self $other): bool
    {
        return $this->id === $other->id && $this->name === $other->name;
    }

    /** Rust `chars().count()` of valid UTF-8: the bytes that are not continuation bytes. */
    private static function chars(string $s): int
    {
        return \strlen($s) - (int) preg_match_all('/[\x80-\xBF]/', $s);
    }

    /** Rust `char::is_control` (Unicode Cc: U+0000-U+001F, U+007F-U+009F) on any char of valid UTF-8. */
    private static function hasControl(string $s): bool
    {
        return preg_match('/[\x00-\x1F\x7F]|\xC2[\x80-\x9F]/', $s) === 1;
    }
}
