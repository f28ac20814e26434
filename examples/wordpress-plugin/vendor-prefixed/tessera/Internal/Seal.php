<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * Sealed state (core/src/seal.rs): XChaCha20-Poly1305 under a key derived
 * with HKDF-SHA256 (salt `tessera-seal-v1`, info `tessera state key`) from
 * host key material. Format: `tsv1.` + base64url(nonce[24] ‖ ciphertext ‖
 * tag[16]), with the prefix as associated data. Any failure to open is
 * `state_undecryptable`, never "empty".
 */
final class Seal
{
    /** Prefix of sealed blobs (and their associated data). */
    public const PREFIX = 'tsv1.';
    /** Shortest key material accepted. */
    public const MIN_KEY_MATERIAL = 16;
    /** Largest sealed blob accepted. */
    public const MAX_SEALED = 128 * 1024;

    private const SALT = 'tessera-seal-v1';
    private const INFO = 'tessera state key';

    /**
     * Seals `plaintext` with a fresh 24-byte `nonce` (pass 24 random bytes).
     *
     * @throws CoreError invalid_input (field `key`) when the key material is shorter than 16 bytes
     */
    public static function seal(
        #[\SensitiveParameter] string $plaintext,
        #[\SensitiveParameter] string $keyMaterial,
        string $nonce,
    ): string {
        $key = self::key($keyMaterial);
        if (\strlen($nonce) !== SODIUM_CRYPTO_AEAD_XCHACHA20POLY1305_IETF_NPUBBYTES) {
            throw CoreError::internal('nonce length');
        }
        try {
            $ct = sodium_crypto_aead_xchacha20poly1305_ietf_encrypt($plaintext, self::PREFIX, $nonce, $key);
        } finally {
            sodium_memzero($key);
        }
        return self::PREFIX . Encoding::b64urlEncode($nonce . $ct);
    }

    /**
     * Opens a blob made by `seal`.
     *
     * @throws CoreError invalid_input (short key material) / state_undecryptable
     */
    public static function open(#[\SensitiveParameter] string $sealed, #[\SensitiveParameter] string $keyMaterial): string
    {
        $key = self::key($keyMaterial);
        try {
            if (\strlen($sealed) > self::MAX_SEALED) {
                throw CoreError::stateUndecryptable();
            }
            $text = Text::trim($sealed);
            $blob = str_starts_with($text, self::PREFIX) ? Encoding::b64urlDecode(substr($text, \strlen(self::PREFIX))) : null;
            if ($blob === null || \strlen($blob) < 24 + 16) {
                throw CoreError::stateUndecryptable();
            }
            $plain = sodium_crypto_aead_xchacha20poly1305_ietf_decrypt(substr($blob, 24), self::PREFIX, substr($blob, 0, 24), $key);
            if ($plain === false) {
                throw CoreError::stateUndecryptable();
            }
            return $plain;
        } finally {
            sodium_memzero($key);
        }
    }

    /**
     * Refuses key material shorter than 16 bytes (what `cipher` checks first).
     *
     * @throws CoreError invalid_input (field `key`)
     */
    public static function checkKeyMaterial(#[\SensitiveParameter] string $keyMaterial): void
    {
        if (\strlen($keyMaterial) < self::MIN_KEY_MATERIAL) {
            throw CoreError::invalidInput('key', 'key material must be at least 16 bytes');
        }
    }

    private static function key(#[\SensitiveParameter] string $keyMaterial): string
    {
        self::checkKeyMaterial($keyMaterial);
        return hash_hkdf('sha256', $keyMaterial, 32, self::INFO, self::SALT);
    }
}
