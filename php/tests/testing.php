<?php

/**
 * The test hooks of the pure-PHP package, for tests only: this file is not
 * part of the package's autoload (composer.json, php/autoload.php), so a
 * production host cannot reach them through the package's API. They mirror
 * the extension's test build (`scripts/build-php.sh --test-hooks`,
 * php-ext/src/testing.rs), whose shipped `tessera.so` has none:
 *
 *   Tessera\Pure\Testing\useSeededEntropy($companion, ?string $seed)
 *   Tessera\Pure\Testing\useClock($companion, ?callable $clock)
 *   Tessera\Pure\Testing\connectUrl($companion, $returnUrl, $scope, $now, string $state)
 *
 * and, when the extension is not loaded (the pure run of the shared suite),
 * the same names under `Tessera\Testing\`, as the test build of the extension
 * has them. The hooks write the companion's private `TestHooks` fields; the
 * package itself has no setter for them.
 */

declare(strict_types=1);

namespace Tessera\Pure\Testing {
    use Tessera\Pure\Companion;
    use Tessera\Pure\Internal\Binding;
    use Tessera\Pure\Internal\Convert;
    use Tessera\Pure\Internal\CoreError;
    use Tessera\Pure\Internal\PhpErrors;
    use Tessera\Pure\Internal\SeededEntropy;
    use Tessera\Pure\Internal\TestHooks;

    /**
     * The exception for `$e`, made to look thrown by the call into the hook
     * (file, line and trace from there, no arguments), as the extension's
     * functions are: the package's own rebasing knows only its public classes.
     */
    function failure(CoreError $e): \Throwable
    {
        $x = PhpErrors::exception($e);
        $trace = $x->getTrace();
        $at = null;
        foreach ($trace as $i => $frame) {
            if (!isset($frame['class']) && preg_match('/^Tessera\\\\(Pure\\\\)?Testing\\\\(useSeededEntropy|useClock|connectUrl)$/', $frame['function'])) {
                $at = $i; // the outermost hook frame: the test's call
            }
        }
        if ($at !== null && isset($trace[$at]['file'])) {
            $frames = array_map(function (array $f): array {
                unset($f['args']);
                return $f;
            }, array_slice($trace, $at));
            foreach (['trace' => $frames, 'file' => $trace[$at]['file'], 'line' => $trace[$at]['line'] ?? 0] as $k => $v) {
                (new \ReflectionProperty(\Exception::class, $k))->setValue($x, $v);
            }
        }
        return $x;
    }

    /** Sets a private field of the companion's TestHooks. @throws CoreError */
    function set(Companion $companion, string $field, mixed $value): void
    {
        $hooks = Binding::hooks($companion);
        \Closure::bind(function () use ($field, $value): void {
            $this->{$field} = $value;
        }, $hooks, TestHooks::class)();
    }

    /**
     * Draw `$companion`'s randomness from the core's `SeededEntropy($seed)`,
     * one stream across calls; null returns to the OS CSPRNG.
     *
     * @throws \Tessera\Pure\Exception\InvalidInputException when the seed is not 32 bytes
     */
    function useSeededEntropy(Companion $companion, #[\SensitiveParameter] mixed $seed = null): void
    {
        try {
            $seed = Convert::optBytes($seed, 'seed');
            if ($seed !== null && strlen($seed) !== 32) {
                throw CoreError::invalidInput('seed', 'must be exactly 32 bytes');
            }
            set($companion, 'seeded', $seed === null ? null : new SeededEntropy($seed));
        } catch (CoreError $e) {
            throw failure($e);
        }
    }

    /**
     * Read `$companion`'s `now` from `$clock()` (unix seconds) instead of the
     * system clock; null returns to the system clock.
     *
     * @throws \Tessera\Pure\Exception\InvalidInputException when `$clock` is not callable
     */
    function useClock(Companion $companion, mixed $clock = null): void
    {
        try {
            set($companion, 'clock', Convert::optCallable($clock, 'clock'));
        } catch (CoreError $e) {
            throw failure($e);
        }
    }

    /**
     * `$companion->connectUrl()` with a fixed `$state` (16-128 characters of
     * `[A-Za-z0-9._~-]`) instead of 16 random bytes.
     *
     * @throws \Tessera\Pure\Exception\InvalidInputException
     * @throws \Tessera\Pure\Exception\InvalidStateException
     */
    function connectUrl(Companion $companion, #[\SensitiveParameter] mixed $returnUrl, mixed $scope, mixed $now, #[\SensitiveParameter] mixed $state): string
    {
        try {
            $returnUrl = Convert::utf8($returnUrl, 'returnUrl');
            $scope = Convert::optUtf8($scope, 'scope');
            $now = Binding::hooks($companion)->nowOr($now);
            $state = Convert::utf8($state, 'state');
            return Binding::core($companion)->connectUrlWithState($returnUrl, $scope, $now, $state);
        } catch (CoreError $e) {
            throw failure($e);
        }
    }

    /** MACs computed by verification so far (the core's `verify::mac_checks`). */
    function macChecks(): int
    {
        return \Tessera\Pure\Internal\Verifier::macChecks();
    }
}

namespace Tessera\Testing {
    if (!\extension_loaded('tessera') && !\function_exists('Tessera\Testing\useSeededEntropy')) {
        function useSeededEntropy(\Tessera\Pure\Companion $companion, #[\SensitiveParameter] mixed $seed = null): void
        {
            \Tessera\Pure\Testing\useSeededEntropy($companion, $seed);
        }

        function useClock(\Tessera\Pure\Companion $companion, mixed $clock = null): void
        {
            \Tessera\Pure\Testing\useClock($companion, $clock);
        }

        function connectUrl(\Tessera\Pure\Companion $companion, #[\SensitiveParameter] mixed $returnUrl, mixed $scope, mixed $now, #[\SensitiveParameter] mixed $state): string
        {
            return \Tessera\Pure\Testing\connectUrl($companion, $returnUrl, $scope, $now, $state);
        }

        function macChecks(): int
        {
            return \Tessera\Pure\Testing\macChecks();
        }
    }
}
