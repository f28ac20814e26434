<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * What the host must do next (`machine::Action`). `__debugInfo` never shows
 * the state JSON of a Persist (it holds the secret) nor the request of a Send.
 */
final class Action
{
    public const SEND = 'send';
    public const SLEEP = 'sleep';
    public const PERSIST = 'persist';
    public const SERVE_PROOF = 'serve_proof';
    public const DONE = 'done';

    private function __construct(
        public readonly string $type,
        public readonly ?Request $request = null,
        public readonly int $ms = 0,
        public readonly ?string $state = null,
        public readonly ?OwnershipProof $proof = null,
        /** For DONE: the completion, or the error that ended the operation. */
        public readonly Completion|CoreError|null $result = null,
    ) {
    }

    /** Send this request exactly as given, without following redirects. */
    public static function send(Request $request): self
    {
        return new self(self::SEND, $request);
    }

    /** Sleep this many milliseconds. */
    public static function sleep(int $ms): self
    {
        return new self(self::SLEEP, null, $ms);
    }

    /** Store this state JSON before anything else. */
    public static function persist(#[\SensitiveParameter] string $state): self
    {
        return new self(self::PERSIST, null, 0, $state);
    }

    /** Serve this ownership proof at its URL. */
    public static function serveProof(OwnershipProof $proof): self
    {
        return new self(self::SERVE_PROOF, null, 0, null, $proof);
    }

    /** The operation is over. */
    public static function done(Completion|CoreError $result): self
    {
        return new self(self::DONE, null, 0, null, null, $result);
    }

    public function __debugInfo(): array
    {
        return match ($this->type) {
            self::SEND => ['type' => 'send', 'url' => $this->request?->url],
            self::SLEEP => ['type' => 'sleep', 'ms' => $this->ms],
            self::PERSIST => ['type' => 'persist', 'state' => '<state, ' . strlen((string) $this->state) . ' bytes>'],
            self::SERVE_PROOF => ['type' => 'serve_proof', 'url' => $this->proof?->url],
            default => ['type' => 'done', 'result' => $this->result instanceof CoreError ? $this->result->code() : $this->result?->type],
        };
    }
}
