<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/** How an operation ended successfully (`machine::Completion`). */
final class Completion
{
    public const RESPONSE = 'response';
    public const REGISTRATION = 'registration';
    public const DISCONNECTED = 'disconnected';
    public const UNINSTALLED = 'uninstalled';
    public const RESET = 'reset';
    public const SITE_MOVED = 'site_moved';

    private function __construct(
        public readonly string $type,
        public readonly ?Response $response = null,
        /** For REGISTRATION: null when registered, the proof still owed otherwise. */
        public readonly ?OwnershipProof $proof = null,
        /** For DISCONNECTED: the remote step; for UNINSTALLED and RESET: the disconnect step. */
        public readonly ?RemoteStep $remote = null,
        /** For UNINSTALLED and RESET: the deregister step. */
        public readonly ?RemoteStep $deregister = null,
    ) {
    }

    /** An API call: the broker's 2xx response. */
    public static function response(Response $response): self
    {
        return new self(self::RESPONSE, $response);
    }

    /** A registration: registered (`$proof` null), or an ownership proof is still owed. */
    public static function registration(?OwnershipProof $proof): self
    {
        return new self(self::REGISTRATION, null, $proof);
    }

    public static function disconnected(RemoteStep $remote): self
    {
        return new self(self::DISCONNECTED, null, null, $remote);
    }

    public static function uninstalled(RemoteStep $disconnect, RemoteStep $deregister): self
    {
        return new self(self::UNINSTALLED, null, null, $disconnect, $deregister);
    }

    /** A reset: the old installation's steps, then the new registration (`$proof` as for registration()). */
    public static function reset(RemoteStep $disconnect, RemoteStep $deregister, ?OwnershipProof $proof): self
    {
        return new self(self::RESET, null, $proof, $disconnect, $deregister);
    }

    public static function siteMoved(): self
    {
        return new self(self::SITE_MOVED);
    }
}
