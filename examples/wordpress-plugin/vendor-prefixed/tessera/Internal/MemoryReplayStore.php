<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * An in-memory ReplayStore bounded per installation (Rust
 * `verify::MemoryReplayStore`): entries expire, and when an installation has
 * `perInstallation` live entries its new requests are refused
 * (replay_store_full) rather than an unexpired nonce being forgotten. Other
 * installations are unaffected: there is no shared limit one installation
 * could exhaust. The installation is the key's part before the first `:`.
 */
final class MemoryReplayStore implements ReplayStore
{
    /** Live nonces one installation may hold in a default store. */
    public const DEFAULT_PER_INSTALLATION = 1_000;

    private int $perInstallation;
    /** @var array<string, int> key => expiry */
    private array $live = [];
    /** @var array<string|int, int> installation => live entries (none for an installation with none) */
    private array $counts = [];
    /** Min-heap of `[expiresAt, key]` by expiry. */
    private \SplHeap $byExpiry;

    /** A store holding at most `perInstallation` (at least 1) live nonces for each installation. */
    public function __construct(int $perInstallation = self::DEFAULT_PER_INSTALLATION)
    {
        $this->perInstallation = max($perInstallation, 1);
        $this->byExpiry = new class () extends \SplHeap {
            /**
             * @param array{0: int, 1: string} $value1
             * @param array{0: int, 1: string} $value2
             */
            protected function compare(mixed $value1, mixed $value2): int
            {
                return $value2[0] <=> $value1[0];
            }
        };
    }

    /** Live entries, all installations together. */
    public function len(): int
    {
        return \count($this->live);
    }

    /** Live entries of one installation. */
    public function lenFor(string $installation): int
    {
        return $this->counts[$installation] ?? 0;
    }

    /** Whether no entry is live. */
    public function isEmpty(): bool
    {
        return $this->live === [];
    }

    /** {@inheritdoc} */
    public function checkAndInsert(string $key, int $expiresAt, int $now): void
    {
        $this->purge($now);
        if (isset($this->live[$key])) {
            throw CoreError::replayed();
        }
        $installation = self::installationOf($key);
        if ($this->lenFor($installation) >= $this->perInstallation) {
            throw CoreError::replayStoreFull();
        }
        $this->counts[$installation] = $this->lenFor($installation) + 1;
        $this->live[$key] = $expiresAt;
        $this->byExpiry->insert([$expiresAt, $key]);
    }

    /** The installation a replay key belongs to: the part before the first `:` ("" when there is none). */
    public static function installationOf(string $key): string
    {
        $colon = strpos($key, ':');
        return $colon === false ? '' : substr($key, 0, $colon);
    }

    /**
     * Forgets entries whose expiry has passed. An entry expiring at `now` is
     * still live: the verifier accepts `now == expires`.
     */
    private function purge(int $now): void
    {
        while (!$this->byExpiry->isEmpty()) {
            [$exp, $key] = $this->byExpiry->top();
            if ($exp >= $now) {
                break;
            }
            $this->byExpiry->extract();
            if (($this->live[$key] ?? null) === $exp) {
                unset($this->live[$key]);
                $installation = self::installationOf($key);
                if (isset($this->counts[$installation])) {
                    if (--$this->counts[$installation] === 0) {
                        unset($this->counts[$installation]);
                    }
                }
            }
        }
    }
}
