<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * A `secretFor` lookup backed by a PHP callable returning the secret in its
 * base64url form or null (`SecretLookup` in php-ext/src/verifier.rs): its
 * first failure (a bad value, or an exception) is kept and wins over the
 * verification result.
 */
final class SecretLookup
{
    private CoreError|\Throwable|null $failure = null;

    /** @param callable $callable */
    public function __construct(private $callable)
    {
    }

    public function lookup(string $installId): ?Secret
    {
        if ($this->failure !== null) {
            return null;
        }
        try {
            $z = ($this->callable)($installId);
            if ($z === null) {
                return null;
            }
            $text = Convert::utf8($z, 'secretFor');
            try {
                return Secret::fromBase64url($text);
            } finally {
                sodium_memzero($text);
            }
        } catch (\Throwable $e) {
            $this->failure = $e;
            return null;
        }
    }

    /**
     * Runs a core verification: its value, or the CoreError it ended with.
     *
     * @template T
     * @param \Closure(): T $f
     * @return T|CoreError
     */
    public static function attempt(\Closure $f): mixed
    {
        try {
            return $f();
        } catch (CoreError $e) {
            return $e;
        }
    }

    /**
     * The verification result, unless the callable failed (its failure wins).
     *
     * @template T
     * @param T|CoreError $r
     * @return T
     * @throws \Throwable
     */
    public function finish(mixed $r): mixed
    {
        if ($this->failure !== null) {
            throw $this->failure;
        }
        if ($r instanceof CoreError) {
            throw $r;
        }
        return $r;
    }
}
