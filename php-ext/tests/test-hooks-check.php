<?php

/**
 * The test hooks are only in test builds (security issue 14): no way to seed
 * a companion's randomness, script its clock or choose its connect `state`
 * in what ships. Run by scripts/test.d/20-php.sh on the built artefacts:
 *
 *   php -n -d extension=target/php/tessera.so      test-hooks-check.php shipped target/php/tessera.so
 *   php -n -d extension=target/php/tessera-test.so test-hooks-check.php test
 *   php -n                                         test-hooks-check.php pure
 *
 * shipped: the extension's Companion has no useSeededEntropy()/useClock(),
 *   connectUrl() no `$state`, there is no Tessera\Testing\ function, and the
 *   .so file does not even contain the hook names.
 * test: the test build has all of them (so `shipped` cannot pass by looking
 *   at the wrong thing).
 * pure: the pure-PHP package as shipped (php/autoload.php, every class of
 *   php/src loaded) has none of them on its public classes, no Testing
 *   function, no public setter on its internal TestHooks; php/tests/testing.php
 *   (not part of the package) provides them, and they work.
 */

declare(strict_types=1);

$mode = $argv[1] ?? '';
$failures = [];
$check = function (bool $ok, string $what) use (&$failures): void {
    echo ($ok ? 'ok   ' : 'FAIL ') . $what . "\n";
    if (!$ok) {
        $failures[] = $what;
    }
};
const HOOK_METHODS = ['useSeededEntropy', 'useClock'];
const HOOK_FUNCTIONS = ['useSeededEntropy', 'useClock', 'connectUrl', 'macChecks'];

/** Public methods of a class, by name. */
function methods(string $class): array
{
    return array_map(fn (ReflectionMethod $m) => $m->getName(), (new ReflectionClass($class))->getMethods(ReflectionMethod::IS_PUBLIC));
}

/** Parameter names of a method. */
function params(string $class, string $method): array
{
    return array_map(fn (ReflectionParameter $p) => $p->getName(), (new ReflectionMethod($class, $method))->getParameters());
}

/** Every defined function in a namespace (lower case, as PHP reports them). */
function functions_in(string $ns): array
{
    $all = get_defined_functions();
    return array_values(array_filter([...$all['internal'], ...$all['user']], fn ($f) => stripos($f, $ns) === 0));
}

/** The companion API without hooks: what a production host sees. */
function assert_no_hooks(callable $check, string $class): void
{
    $check(array_intersect(HOOK_METHODS, methods($class)) === [], "$class has no " . implode('/', HOOK_METHODS));
    $check(params($class, 'connectUrl') === ['returnUrl', 'scope', 'now'], "$class::connectUrl(returnUrl, scope, now): no \$state");
    $check(functions_in('Tessera\\Testing\\') === [], 'no Tessera\\Testing\\ function');
}

switch ($mode) {
    case 'shipped':
        $check(extension_loaded('tessera'), 'the extension is loaded');
        assert_no_hooks($check, 'Tessera\\Companion');
        $check(get_extension_funcs('tessera') === false || get_extension_funcs('tessera') === [], 'the extension defines no function');
        $so = $argv[2] ?? '';
        $bytes = is_file($so) ? (string) file_get_contents($so) : '';
        $check($bytes !== '', "read $so");
        foreach (['useSeededEntropy', 'useClock', 'Tessera\\Testing', 'SeededEntropy'] as $name) {
            $check(!str_contains($bytes, $name), "the .so does not contain \"$name\"");
        }
        break;

    case 'test':
        $check(extension_loaded('tessera'), 'the extension is loaded');
        foreach ([...HOOK_FUNCTIONS, 'panic'] as $f) {
            $check(function_exists("Tessera\\Testing\\$f"), "the test build has Tessera\\Testing\\$f()");
        }
        $check(array_intersect(HOOK_METHODS, methods('Tessera\\Companion')) === [], 'hooks are functions, not Companion methods');
        break;

    case 'pure':
        $check(!extension_loaded('tessera'), 'the extension is not loaded');
        require __DIR__ . '/../../php/autoload.php';
        // Every class the package ships, loaded.
        $src = realpath(__DIR__ . '/../../php/src');
        foreach (new RecursiveIteratorIterator(new RecursiveDirectoryIterator($src, FilesystemIterator::SKIP_DOTS)) as $file) {
            $rel = substr((string) $file, strlen($src) + 1, -4);
            if ($rel !== 'aliases') {
                $name = 'Tessera\\Pure\\' . strtr($rel, '/', '\\');
                class_exists($name) || interface_exists($name) || trait_exists($name) || enum_exists($name);
            }
        }
        $check(class_exists('Tessera\\Pure\\Internal\\TestHooks', false), 'php/src loaded');
        assert_no_hooks($check, 'Tessera\\Pure\\Companion');
        $check(functions_in('Tessera\\Pure\\') === [], 'no Tessera\\Pure\\ function (no Testing\\ ones)');
        $setters = array_diff(methods('Tessera\\Pure\\Internal\\TestHooks'), ['entropy', 'now', 'nowOr']);
        $check($setters === [], 'the internal TestHooks has no public setter (' . implode(', ', $setters) . ')');
        $composer = json_decode((string) file_get_contents(__DIR__ . '/../../php/composer.json'), true);
        $check(!str_contains(json_encode($composer['autoload'] ?? []), 'tests'), 'composer.json autoloads nothing from php/tests');
        // The test-only file provides them, and they work.
        require __DIR__ . '/../../php/tests/testing.php';
        foreach (HOOK_FUNCTIONS as $f) {
            $check(function_exists("Tessera\\Pure\\Testing\\$f") && function_exists("Tessera\\Testing\\$f"), "php/tests/testing.php has Tessera\\Pure\\Testing\\$f()");
        }
        $body = function (): string {
            $c = Tessera\Pure\Companion::create(['broker_url' => 'https://broker.example']);
            Tessera\Pure\Testing\useSeededEntropy($c, str_repeat("\x07", 32));
            return $c->registrationRequest(['site_url' => 'https://shop.example', 'admin_email' => 'a@shop.example', 'platform' => 'wordpress', 'plugin_version' => '1'])['body'];
        };
        $check($body() === $body(), 'a seeded companion is reproducible');
        break;

    default:
        fwrite(STDERR, "usage: test-hooks-check.php shipped <tessera.so> | test | pure\n");
        exit(2);
}

if ($failures !== []) {
    fwrite(STDERR, count($failures) . " test-hooks check(s) failed ($mode)\n");
    exit(1);
}
echo "test hooks ($mode): " . ($mode === 'test' ? 'present' : 'absent') . "\n";
