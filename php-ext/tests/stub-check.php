<?php
/**
 * Checks php-ext/tessera.stub.php against the loaded `tessera` extension by
 * reflection: the same classes, parents, flags, interfaces, methods
 * (name, static/final/abstract, visibility, parameter names, types,
 * optionality and defaults, return types; `#[\SensitiveParameter]` against
 * the pure-PHP package), non-private properties, constants
 * and functions. Test-only functions (namespace Tessera\Testing) are ignored.
 *
 *   php -d extension=/path/tessera.so php-ext/tests/stub-check.php php-ext/tessera.stub.php
 *   php -n php-ext/tests/stub-check.php --pure php-ext/tessera.stub.php   (the pure-PHP package, php/)
 *
 * The stub is described in a child `php -n` process (no extension), so both
 * descriptions come from reflection of real classes.
 */

declare(strict_types=1);

function type_str(?ReflectionType $t): ?string
{
    return $t === null ? null : (string) $t;
}

function describe_function(ReflectionFunctionAbstract $f): array
{
    $params = [];
    foreach ($f->getParameters() as $p) {
        $default = null;
        if ($p->isDefaultValueAvailable()) {
            $default = var_export($p->getDefaultValue(), true);
        }
        $params[] = [
            'name' => $p->getName(),
            'type' => type_str($p->getType()),
            'optional' => $p->isOptional(),
            'variadic' => $p->isVariadic(),
            'by_ref' => $p->isPassedByReference(),
            'default' => $default,
            'sensitive' => $p->getAttributes('SensitiveParameter') !== [],
        ];
    }
    $d = [
        'params' => $params,
        'return' => type_str($f->getReturnType()),
        'by_ref_return' => $f->returnsReference(),
    ];
    if ($f instanceof ReflectionMethod) {
        $d['static'] = $f->isStatic();
        $d['final'] = $f->isFinal();
        $d['abstract'] = $f->isAbstract();
        $d['visibility'] = $f->isPublic() ? 'public' : ($f->isProtected() ? 'protected' : 'private');
    }
    return $d;
}

function describe_class(string $name): array
{
    $c = new ReflectionClass($name);
    $methods = [];
    foreach ($c->getMethods() as $m) {
        if ($m->getDeclaringClass()->getName() !== $c->getName()) {
            continue;
        }
        $methods[$m->getName()] = describe_function($m);
    }
    ksort($methods);
    $props = [];
    foreach ($c->getProperties() as $p) {
        if ($p->isPrivate() || $p->getDeclaringClass()->getName() !== $c->getName()) {
            continue;
        }
        $props[$p->getName()] = [
            'visibility' => $p->isPublic() ? 'public' : 'protected',
            'static' => $p->isStatic(),
            'type' => type_str($p->getType()),
            'readonly' => $p->isReadOnly(),
        ];
    }
    ksort($props);
    $interfaces = $c->getInterfaceNames();
    sort($interfaces);
    $constants = [];
    foreach ($c->getReflectionConstants() as $k) {
        if ($k->getDeclaringClass()->getName() === $c->getName()) {
            $constants[$k->getName()] = var_export($k->getValue(), true);
        }
    }
    ksort($constants);
    return [
        'parent' => $c->getParentClass() ? $c->getParentClass()->getName() : null,
        'final' => $c->isFinal(),
        'abstract' => $c->isAbstract(),
        'interface' => $c->isInterface(),
        'interfaces' => $interfaces,
        'methods' => $methods,
        'properties' => $props,
        'constants' => $constants,
    ];
}

function describe(array $classes, array $functions): array
{
    $out = ['classes' => [], 'functions' => []];
    foreach ($classes as $cls) {
        $out['classes'][$cls] = describe_class($cls);
    }
    foreach ($functions as $fn) {
        $out['functions'][$fn] = describe_function(new ReflectionFunction($fn));
    }
    ksort($out['classes']);
    ksort($out['functions']);
    return $out;
}

function is_public_api(string $name): bool
{
    return stripos($name, 'Tessera\\Testing\\') !== 0;
}

if (($argv[1] ?? '') === '--describe-stub') {
    $before = get_declared_classes();
    require $argv[2];
    $classes = array_values(array_filter(
        array_diff(get_declared_classes(), $before),
        fn ($c) => stripos($c, 'Tessera\\') === 0
    ));
    $functions = array_values(array_filter(
        get_defined_functions()['user'],
        fn ($f) => stripos($f, 'tessera\\') === 0
    ));
    // Reflection gives user function names in lower case; use the declared name.
    $functions = array_map(fn ($f) => (new ReflectionFunction($f))->getName(), $functions);
    echo json_encode(describe($classes, $functions), JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), "\n";
    exit(0);
}

/**
 * The pure-PHP package (php/, `Tessera\Pure\…`) described under the API's
 * names, to compare with the stub: parameter types are left out (the pure
 * methods are untyped on purpose: a wrong type is theirs to refuse with
 * InvalidInputException, as the extension does), and so are the magic methods
 * with which pure PHP refuses cloning and serialisation (the extension does it
 * in its object handlers).
 */
function describe_pure(): array
{
    require_once __DIR__ . '/../../php/autoload.php';
    $classes = array_values(array_filter(
        get_declared_classes(),
        fn ($c) => str_starts_with($c, 'Tessera\\Pure\\') && !str_starts_with($c, 'Tessera\\Pure\\Internal\\')
    ));
    $desc = describe($classes, []);
    $api = fn ($v) => is_string($v) ? preg_replace('/(^|\?)Tessera\\\\Pure\\\\/', '$1Tessera\\\\', $v) : $v;
    $out = ['classes' => [], 'functions' => []];
    foreach ($desc['classes'] as $name => $c) {
        $c['parent'] = $api($c['parent']);
        foreach (['__clone', '__serialize', '__unserialize', '__wakeup', '__sleep', '__debugInfo', '__set_state'] as $magic) {
            unset($c['methods'][$magic]);
        }
        foreach ($c['methods'] as &$m) {
            $m['return'] = $api($m['return']);
        }
        unset($m);
        $out['classes'][$api($name)] = $c;
    }
    ksort($out['classes']);
    return $out;
}

function without_param_types(array $desc): array
{
    return without_param_keys($desc, 'type');
}

/**
 * `#[\SensitiveParameter]` is compared with the pure-PHP package only: the
 * extension cannot declare attributes (ext-php-rs), so there the stub's are
 * documentation.
 */
function without_param_keys(array $desc, string $key): array
{
    foreach ($desc['classes'] as &$c) {
        foreach ($c['methods'] as &$m) {
            foreach ($m['params'] as &$p) {
                unset($p[$key]);
            }
        }
    }
    foreach ($desc['functions'] as &$f) {
        foreach ($f['params'] as &$p) {
            unset($p[$key]);
        }
    }
    return $desc;
}

$pure = ($argv[1] ?? '') === '--pure';
$stub = $argv[$pure ? 2 : 1] ?? (__DIR__ . '/../tessera.stub.php');
if ($pure) {
    if (extension_loaded('tessera')) {
        fwrite(STDERR, "stub-check --pure: run it without the tessera extension (php -n)\n");
        exit(2);
    }
    $extDesc = describe_pure();
    $against = 'the pure-PHP package';
} else {
    if (!extension_loaded('tessera')) {
        fwrite(STDERR, "stub-check: the tessera extension is not loaded (php -d extension=...)\n");
        exit(2);
    }
    $ext = new ReflectionExtension('tessera');
    $extDesc = describe(
        array_values(array_filter($ext->getClassNames(), 'is_public_api')),
        array_values(array_filter(array_map(fn ($f) => $f->getName(), $ext->getFunctions()), 'is_public_api'))
    );
    $against = 'the extension';
}

$cmd = escapeshellarg(PHP_BINARY) . ' -n ' . escapeshellarg(__FILE__) . ' --describe-stub ' . escapeshellarg($stub);
exec($cmd, $lines, $rc);
if ($rc !== 0) {
    fwrite(STDERR, "stub-check: describing the stub failed:\n" . implode("\n", $lines) . "\n");
    exit(2);
}
$stubDesc = json_decode(implode("\n", $lines), true);
$extDesc = json_decode(json_encode($extDesc), true);
if ($pure) {
    $stubDesc = without_param_types($stubDesc);
    $extDesc = without_param_types($extDesc);
} else {
    $stubDesc = without_param_keys($stubDesc, 'sensitive');
    $extDesc = without_param_keys($extDesc, 'sensitive');
}

$problems = [];
$walk = function ($a, $b, string $path) use (&$walk, &$problems, $against): void {
    if (is_array($a) && is_array($b)) {
        foreach (array_unique(array_merge(array_keys($a), array_keys($b))) as $k) {
            $p = $path === '' ? (string) $k : "$path.$k";
            if (!array_key_exists($k, $a)) {
                $problems[] = "$p: only in $against";
            } elseif (!array_key_exists($k, $b)) {
                $problems[] = "$p: only in the stub";
            } else {
                $walk($a[$k], $b[$k], $p);
            }
        }
        return;
    }
    if ($a !== $b) {
        $problems[] = "$path: stub " . json_encode($a) . " != $against " . json_encode($b);
    }
};
$walk($stubDesc, $extDesc, '');

$classes = count($extDesc['classes']);
$methods = array_sum(array_map(fn ($c) => count($c['methods']), $extDesc['classes']));
if ($problems) {
    fwrite(STDERR, "stub-check: tessera.stub.php does not match $against:\n  " . implode("\n  ", $problems) . "\n");
    exit(1);
}
echo "stub-check: tessera.stub.php matches $against" . ($pure ? ' (parameter types aside)' : '') . " ($classes classes, $methods methods, " . count($extDesc['functions']) . " functions)\n";
