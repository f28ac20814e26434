<?php
/**
 * Checks the PHP side against the core's one table of error codes
 * (`tessera_core::CODES`, printed as JSON by
 * `cargo run -q -p tessera-core --example codes`): every code maps to the
 * exception class of its kind, and every kind has its class.
 *
 *   php -n codes-check.php codes.json --stub php-ext/tessera.stub.php
 *       the stub declares one final `Tessera\Exception\…Exception` per kind
 *       (the base `TesseraException` for `internal`), and no other family
 *   php -n codes-check.php codes.json --pure
 *       pure PHP (php/): CoreError's code => kind table and wireCode(), the
 *       class PhpErrors builds for every code (with getHttpStatus() and
 *       getWireCode() for verification), the `Tessera\Exception\…` aliases
 *   php -d extension=tessera.so codes-check.php codes.json --ext php-ext/src/errors.rs
 *       the extension has every kind's class, and its `class_for` (read from
 *       errors.rs: the extension has no Rust test harness) maps every kind of
 *       the table to that class
 *
 * The class of a kind is its PascalCase name + `Exception` (`invalid_input` →
 * `InvalidInputException`); `internal` has the base class.
 */

declare(strict_types=1);

/** @var list<string> */
$problems = [];

function problem(string $p): void
{
    global $problems;
    $problems[] = $p;
}

function pascal(string $snake): string
{
    return str_replace(' ', '', ucwords(str_replace('_', ' ', $snake)));
}

/** The short class name of a kind. */
function class_of(string $kind): string
{
    return $kind === 'internal' ? 'TesseraException' : pascal($kind) . 'Exception';
}

[$self, $tableFile, $mode] = $argv + [null, null, null];
if ($tableFile === null || !in_array($mode, ['--stub', '--pure', '--ext'], true)) {
    fwrite(STDERR, "usage: codes-check.php codes.json --stub STUB | --pure | --ext ERRORS_RS\n");
    exit(2);
}
$rows = json_decode((string) file_get_contents($tableFile), true, 8, JSON_THROW_ON_ERROR);
if (!is_array($rows) || $rows === []) {
    fwrite(STDERR, "codes-check: $tableFile holds no table\n");
    exit(2);
}
/** @var array<string, array{code: string, kind: string, wire_status: int, wire_code: string}> $table */
$table = array_column($rows, null, 'code');
$kinds = array_values(array_unique(array_column($rows, 'kind')));
$families = array_map('class_of', array_values(array_diff($kinds, ['internal'])));
sort($families);

/** Checks the family classes of namespace `$ns` as declared (stub, extension or pure PHP). */
function check_classes(string $ns, array $kinds, string $where): void
{
    $base = "$ns\\TesseraException";
    if (!class_exists($base)) {
        problem("$where: no $base");
        return;
    }
    foreach ($kinds as $kind) {
        $class = $ns . '\\' . class_of($kind);
        if (!class_exists($class)) {
            problem("$where: kind `$kind` has no class $class");
            continue;
        }
        $r = new ReflectionClass($class);
        if ($kind !== 'internal' && ($r->getParentClass() === false || $r->getParentClass()->getName() !== (new ReflectionClass($base))->getName() || !$r->isFinal())) {
            problem("$where: $class is not a final subclass of $base");
        }
        if ($kind === 'verification') {
            foreach (['getHttpStatus', 'getWireCode'] as $m) {
                if (!$r->hasMethod($m)) {
                    problem("$where: $class has no $m()");
                }
            }
        }
    }
}

switch ($mode) {
    case '--stub':
        if (extension_loaded('tessera')) {
            fwrite(STDERR, "codes-check --stub: run it without the tessera extension (php -n)\n");
            exit(2);
        }
        require $argv[3] ?? (__DIR__ . '/../tessera.stub.php');
        check_classes('Tessera\\Exception', $kinds, 'stub');
        // No family beyond the table's kinds (TransportException is the host's, not a kind).
        $declared = [];
        foreach (get_declared_classes() as $c) {
            if (str_starts_with($c, 'Tessera\\Exception\\') && is_subclass_of($c, 'Tessera\\Exception\\TesseraException')) {
                $declared[] = substr($c, strlen('Tessera\\Exception\\'));
            }
        }
        sort($declared);
        foreach (array_diff($declared, $families) as $extra) {
            problem("stub: Tessera\\Exception\\$extra is the class of no kind in the core's table");
        }
        $what = 'tessera.stub.php';
        break;

    case '--pure':
        if (extension_loaded('tessera')) {
            fwrite(STDERR, "codes-check --pure: run it without the tessera extension (php -n)\n");
            exit(2);
        }
        require_once __DIR__ . '/../../php/autoload.php';
        check_classes('Tessera\\Pure\\Exception', $kinds, 'pure PHP');
        // The `Tessera\Exception\…` aliases (php/src/aliases.php).
        foreach ($kinds as $kind) {
            $alias = 'Tessera\\Exception\\' . class_of($kind);
            $pure = 'Tessera\\Pure\\Exception\\' . class_of($kind);
            if (!class_exists($alias) || (new ReflectionClass($alias))->getName() !== $pure) {
                problem("pure PHP: $alias is not an alias of $pure (php/src/aliases.php)");
            }
        }
        $core = new ReflectionClass(\Tessera\Pure\Internal\CoreError::class);
        $want = array_map(fn ($r) => $r['kind'], $table);
        $have = $core->getConstant('KINDS');
        if ($have !== $want) {
            foreach (array_diff_key($want, $have) as $code => $_) {
                problem("pure PHP: CoreError::KINDS lacks `$code`");
            }
            foreach (array_diff_key($have, $want) as $code => $_) {
                problem("pure PHP: CoreError::KINDS has `$code`, no code of the core");
            }
            if (array_keys($have) == array_keys($want)) {
                problem('pure PHP: CoreError::KINDS differs from the core (a kind, or the order): ' . json_encode(array_diff_assoc($have, $want)));
            }
        }
        $kindConsts = array_values(array_filter($core->getConstants(), fn ($v, $k) => str_starts_with($k, 'KIND_'), ARRAY_FILTER_USE_BOTH));
        if ($kindConsts !== $kinds) {
            problem('pure PHP: CoreError::KIND_* are ' . json_encode($kindConsts) . ', the core has ' . json_encode($kinds));
        }
        // One CoreError of every code, through its private constructor.
        $make = Closure::bind(
            static fn (string $code): \Tessera\Pure\Internal\CoreError => new \Tessera\Pure\Internal\CoreError($code, "a $code"),
            null,
            \Tessera\Pure\Internal\CoreError::class,
        );
        foreach ($table as $code => $row) {
            if (!array_key_exists($code, $have)) {
                continue;
            }
            $e = $make($code);
            if ($e->kind() !== $row['kind']) {
                problem("pure PHP: `$code` has kind `{$e->kind()}`, the core `{$row['kind']}`");
            }
            $wire = [$row['wire_status'], $row['wire_code']];
            if ($e->wireCode() !== $wire) {
                problem("pure PHP: CoreError::wireCode() of `$code` is " . json_encode($e->wireCode()) . ', the core ' . json_encode($wire));
            }
            $x = \Tessera\Pure\Internal\PhpErrors::exception($e);
            $class = 'Tessera\\Pure\\Exception\\' . class_of($row['kind']);
            if (get_class($x) !== $class) {
                problem("pure PHP: `$code` is thrown as " . get_class($x) . ", not $class");
            } elseif ($x->getErrorCode() !== $code) {
                problem("pure PHP: the exception of `$code` says getErrorCode() `{$x->getErrorCode()}`");
            } elseif ($row['kind'] === 'verification' && [$x->getHttpStatus(), $x->getWireCode()] !== $wire) {
                problem("pure PHP: the exception of `$code` answers " . json_encode([$x->getHttpStatus(), $x->getWireCode()]) . ', the core ' . json_encode($wire));
            }
        }
        $what = 'the pure-PHP package';
        break;

    case '--ext':
        if (!extension_loaded('tessera')) {
            fwrite(STDERR, "codes-check --ext: the tessera extension is not loaded (php -d extension=...)\n");
            exit(2);
        }
        check_classes('Tessera\\Exception', $kinds, 'extension');
        foreach ($kinds as $kind) {
            $class = 'Tessera\\Exception\\' . class_of($kind);
            if (class_exists($class) && (new ReflectionClass($class))->getExtensionName() !== 'tessera') {
                problem("extension: $class is not the extension's");
            }
        }
        // class_for: `ErrorKind::X => Class::Y`, the rest (`_`) the base class.
        $src = (string) file_get_contents($argv[3] ?? (__DIR__ . '/../src/errors.rs'));
        if (!preg_match('/pub fn class_for\(kind: ErrorKind\) -> Class \{(.*?)\n\}/s', $src, $m)) {
            problem('extension: no `pub fn class_for(kind: ErrorKind) -> Class` in errors.rs');
            $m = [1 => ''];
        }
        preg_match_all('/ErrorKind::(\w+)\s*=>\s*Class::(\w+)/', $m[1], $arms, PREG_SET_ORDER);
        $mapped = [];
        foreach ($arms as [, $kindName, $className]) {
            $mapped[$kindName] = $className === 'Base' ? 'TesseraException' : "{$className}Exception";
        }
        foreach ($kinds as $kind) {
            $got = $mapped[pascal($kind)] ?? 'TesseraException';
            if ($got !== class_of($kind)) {
                problem("extension: class_for(ErrorKind::" . pascal($kind) . ") is $got, not " . class_of($kind) . ' (php-ext/src/errors.rs)');
            }
        }
        foreach (array_diff(array_keys($mapped), array_map('pascal', $kinds)) as $extra) {
            problem("extension: class_for maps ErrorKind::$extra, no kind of the core");
        }
        $what = 'the extension';
        break;
}

if ($problems) {
    fwrite(STDERR, "codes-check: $what does not match the core's error codes:\n  " . implode("\n  ", $problems) . "\n");
    exit(1);
}
echo "codes-check: $what matches the core's table (" . count($table) . ' codes, ' . count($kinds) . " kinds)\n";
