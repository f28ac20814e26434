<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * A connect URL whose parameters are well formed and in time, waiting for the
 * secret of its {@see installId()} (Rust `verify::ConnectUrlAwaitingSecret`).
 */
final class ConnectUrlAwaitingSecret
{
    /**
     * @param ConnectParams $params the URL's parameters
     * @param string $sig its `sig`
     * @param int $now broker time of the verification
     */
    public function __construct(
        private readonly ConnectParams $params,
        private readonly string $sig,
        private readonly int $now,
    ) {
    }

    /** The installation whose secret the broker must look up. */
    public function installId(): string
    {
        return $this->params->installId;
    }

    /**
     * Step 2: checks `sig` with the installation's `secret` (null when the
     * broker knows no such installation), then the return URL.
     *
     * @throws Refusal
     */
    public function check(?Secret $secret): ConnectParams
    {
        if ($secret === null) {
            throw new Refusal(CoreError::unknownInstallation(), $this->now);
        }
        $p = $this->params;
        Verifier::countMac();
        $want = Connect::linkSignature(
            $secret,
            Connect::CONNECT_CONTEXT,
            Connect::connectPairs($p->installId, $p->state, $p->returnUrl, $p->scope, (string) $p->ts),
        );
        if (!hash_equals($want, $this->sig)) {
            throw new Refusal(CoreError::signatureInvalid(), $this->now);
        }
        try {
            Connect::checkReturnUrl($p->returnUrl);
        } catch (CoreError $e) {
            throw new Refusal($e, $this->now);
        }
        return $p;
    }

    /**
     * What `var_dump` shows: never the link's `sig` (an uninstall ticket is a
     * bearer capability for days, a connect URL one until it is used).
     *
     * @return array<string, mixed>
     */
    public function __debugInfo(): array
    {
        return ['params' => $this->params, 'sig' => '[redacted]'];
    }
}
