<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * How the public `Verifier` talks to the broker's callables (the helpers of
 * php-ext/src/verifier.rs): the secret lookup and the replay store's answer.
 */
final class VerifierCallbacks
{
    /**
     * Why `verify()` refuses up front without a replay store: a PHP object does not outlive its request
     * (`NO_REPLAY_STORE` in php-ext/src/verifier.rs).
     */
    public const NO_REPLAY_STORE = "pass a shared replay store (\$replay(string \$key, int \$expiresAt, int \$now) "
        . "answering 'fresh', 'seen' or 'full'), or construct the Verifier with \$replayCapacity in a long-running "
        . 'process: a per-request in-memory store would not stop replays';
    /** What the replay callable may answer (`BAD_REPLAY_ANSWER`). */
    public const BAD_REPLAY_ANSWER = "must return 'fresh', 'seen' or 'full' (or true for fresh, false for seen)";

    /**
     * Asks `$secretFor` — once — for the secret of `$installId`: its base64url
     * form, or null for an unknown installation (`secret_for` in
     * php-ext/src/verifier.rs).
     *
     * @throws CoreError
     */
    public static function secretFor(callable $secretFor, string $installId): ?Secret
    {
        $z = $secretFor($installId);
        if ($z === null) {
            return null;
        }
        $text = Convert::utf8($z, 'secretFor');
        try {
            return Secret::fromBase64url($text);
        } finally {
            sodium_memzero($text);
        }
    }

    /**
     * The replay callable's answer (`replay_answer`): 'fresh', 'seen', 'full',
     * or true = fresh and false = seen.
     *
     * @throws CoreError
     */
    public static function replayAnswer(mixed $z): ReplayAnswer
    {
        return match (true) {
            $z === true, $z === 'fresh' => ReplayAnswer::Fresh,
            $z === false, $z === 'seen' => ReplayAnswer::Seen,
            $z === 'full' => ReplayAnswer::Full,
            default => throw CoreError::invalidInput('replay', self::BAD_REPLAY_ANSWER),
        };
    }
}
