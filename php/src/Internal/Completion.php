<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/** How an operation ended successfully (`machine::Completion`). */
final class Completion
{
    public const RESPONSE = 'response';
    public const REGISTRATION = 'registration';
    public const DISCONNECTED = 'disconnected';
    public const UNINSTALLED = 'uninstalled';
    public const RESET = 'reset';
    public const SITE_MOVED = 'site_moved';
    public const CONNECTED = 'connected';
    public const PREVIOUS_REVOKED = 'previous_revoked';
    public const RECORDED = 'recorded';
    public const EVENTS = 'events';

    private function __construct(
        public readonly string $type,
        public readonly ?Response $response = null,
        /** For REGISTRATION: null when registered, the proof still owed otherwise. */
        public readonly ?OwnershipProof $proof = null,
        /** For DISCONNECTED: the remote step; for UNINSTALLED and RESET: the disconnect step. */
        public readonly ?RemoteStep $remote = null,
        /** For UNINSTALLED and RESET: the deregister step. */
        public readonly ?RemoteStep $deregister = null,
        /** For CONNECTED: the Stora account the operator consented with. */
        public readonly ?Account $account = null,
        /** For PREVIOUS_REVOKED: false when the broker had nothing left of it. */
        public readonly bool $revoked = false,
        /** For EVENTS: the page of Stora's events. */
        public readonly ?EventPage $page = null,
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

    /** A connect completion: connected; the broker token is stored and this is the account to show the operator. */
    public static function connected(Account $account): self
    {
        return new self(self::CONNECTED, null, null, null, null, $account);
    }

    /** A previous installation revoked (`$revoked` false: nothing of it was left). */
    public static function previousRevoked(bool $revoked): self
    {
        return new self(self::PREVIOUS_REVOKED, null, null, null, null, null, $revoked);
    }

    /** A recorded call: the action's 2xx response and how recording its event ended (`$remote`). */
    public static function recorded(Response $response, RemoteStep $event): self
    {
        return new self(self::RECORDED, $response, null, $event);
    }

    /** A pull of Stora's events: a page (the cursor moves when the host acknowledges it). */
    public static function events(EventPage $page): self
    {
        return new self(self::EVENTS, null, null, null, null, null, false, $page);
    }

    public static function siteMoved(): self
    {
        return new self(self::SITE_MOVED);
    }
}
