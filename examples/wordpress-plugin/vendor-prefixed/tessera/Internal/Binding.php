<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

use StorefrontSync\Vendor\Tessera\Companion;
use StorefrontSync\Vendor\Tessera\Verifier;

/**
 * What the public classes keep per object, outside their properties (so
 * dumps, casts and `var_export` of a `Companion` or `Verifier` show nothing,
 * like the extension's objects), and the helpers they share. Keeping them
 * here leaves the public classes with exactly the extension's methods.
 */
final class Binding
{
    /** @var \WeakMap<Companion, array{CompanionCore, TestHooks}>|null */
    private static ?\WeakMap $companions = null;
    /** @var \WeakMap<Verifier, VerifierState>|null */
    private static ?\WeakMap $verifiers = null;
    private static ?\ReflectionClass $companionClass = null;
    /** @var \WeakMap<Companion, RefreshLock>|null the refresh lock of each companion that was given one */
    private static ?\WeakMap $refreshLocks = null;

    /** A Companion object around `$core` (its constructor is the "not constructible" one). */
    public static function wrap(CompanionCore $core): Companion
    {
        self::$companionClass ??= new \ReflectionClass(Companion::class);
        /** @var Companion $c */
        $c = self::$companionClass->newInstanceWithoutConstructor();
        self::$companions ??= new \WeakMap();
        self::$companions[$c] = [$core, new TestHooks()];
        return $c;
    }

    /** @throws CoreError for an object Tessera did not create */
    public static function core(Companion $c): CompanionCore
    {
        return (self::$companions[$c] ?? null)[0] ?? throw self::uninitialised();
    }

    /** @throws CoreError for an object Tessera did not create */
    public static function hooks(Companion $c): TestHooks
    {
        return (self::$companions[$c] ?? null)[1] ?? throw self::uninitialised();
    }

    /** Keeps `$lock` as the companion's refresh lock (`setRefreshLock()`). @throws CoreError */
    public static function setRefreshLock(Companion $c, RefreshLock $lock): void
    {
        self::core($c);
        self::$refreshLocks ??= new \WeakMap();
        self::$refreshLocks[$c] = $lock;
    }

    /**
     * Proxy mode: the operations that may refresh the tokens (`call()`,
     * `callAndRecord()`) need the refresh lock; without it they fail before
     * any action.
     *
     * @throws CoreError invalid_input naming `setRefreshLock`
     */
    public static function requireRefreshLock(Companion $c): void
    {
        if (self::core($c)->state->config->proxy !== null && !isset(self::$refreshLocks[$c])) {
            throw CoreError::invalidInput(
                'setRefreshLock',
                "authorization-proxy mode needs the host's refresh lock before call() and callAndRecord()",
            );
        }
    }

    public static function uninitialised(): CoreError
    {
        return CoreError::invalidState('create a Companion with Companion::create(), importState() or openState()');
    }

    public static function setVerifier(Verifier $v, VerifierState $state): void
    {
        self::$verifiers ??= new \WeakMap();
        self::$verifiers[$v] = $state;
    }

    /** @throws CoreError for an object whose constructor did not run */
    public static function verifier(Verifier $v): VerifierState
    {
        return self::$verifiers[$v] ?? throw CoreError::invalidState('the Verifier was not constructed');
    }

    /**
     * Internal functions refuse extra arguments (`ArgumentCountError`, the
     * engine's message); so do the public methods.
     */
    public static function arity(string $class, string $method, int $given, int $min, int $max): void
    {
        if ($given > $max) {
            throw new \ArgumentCountError(sprintf(
                '%s::%s() expects %s %d argument%s, %d given',
                $class,
                $method,
                $min === $max ? 'exactly' : 'at most',
                $max,
                $max === 1 ? '' : 's',
                $given,
            ));
        }
    }

    /** The host's callables, checked (`host()` in php-ext/src/companion.rs). @throws CoreError */
    public static function host(mixed $transport, mixed $sleep, mixed $persist, mixed $serveProof): Host
    {
        return new Host(
            Convert::callable($transport, 'transport'),
            Convert::optCallable($sleep, 'sleep'),
            Convert::optCallable($persist, 'persist'),
            Convert::optCallable($serveProof, 'serveProof'),
        );
    }

    /**
     * Runs an operation on the step machine with the host's callables and
     * returns its completion as PHP (`Companion::run`).
     *
     * @param \Closure(CompanionCore): Call $start
     * @throws CoreError
     */
    public static function run(Companion $c, #[\SensitiveParameter] \Closure $start, #[\SensitiveParameter] Host $host): ?array
    {
        $core = self::core($c);
        $call = $start($core);
        $host->withRefreshLock(self::$refreshLocks[$c] ?? null);
        return Convert::completionToPhp($host->drive($core, self::hooks($c), $call));
    }
}
