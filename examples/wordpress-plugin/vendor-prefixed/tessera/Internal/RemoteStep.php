<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** How a remote step of disconnect/uninstall ended (`machine::RemoteStep`). */
final class RemoteStep
{
    public const OK = 'ok';
    public const SKIPPED = 'skipped';
    public const FAILED = 'failed';

    private function __construct(public readonly string $result, public readonly ?CoreError $error = null)
    {
    }

    /** The broker confirmed it (or it was already done). */
    public static function ok(): self
    {
        return new self(self::OK);
    }

    /** Not attempted. */
    public static function skipped(): self
    {
        return new self(self::SKIPPED);
    }

    /** It failed; the local side went ahead anyway. */
    public static function failed(CoreError $error): self
    {
        return new self(self::FAILED, $error);
    }

    /** `ok`, `skipped` or `failed`. */
    public function asStr(): string
    {
        return $this->result;
    }
}
