<?php

declare(strict_types=1);

namespace Tessera\Tests;

use PHPUnit\Framework\TestCase;

/**
 * The ```php blocks of php-ext/README.md and php/README.md work as written,
 * on the implementation under test (this file runs against the extension and
 * against pure PHP: scripts/test.d/20-php.sh):
 *
 * - every block lints (`php -l`);
 * - statically, in every block (run or not): each function it calls exists
 *   (PHP's, the stand-ins' below, or one the README defines), each class it
 *   imports from `Tessera\` exists, and each named argument it passes to a
 *   Tessera method or constructor is a parameter of it;
 * - every block is RUN, in the README's order, each in its own PHP process
 *   (one WordPress request each), with stand-ins for WordPress (`get_option()`
 *   & co. over a JSON file) and for the broker (`wp_remote_request()` answers
 *   as a broker would) — unless marked on the line before its fence:
 *     `<!-- readme-test: skip (reason) -->`  not run (the reason is required);
 *     `<!-- readme-test: shared -->`         run, and prepended to every later
 *                                           block of its README (the plugin's
 *                                           helpers, in its main file);
 *     `<!-- readme-test: needs Tessera\Http -->` run when the implementation has
 *                                           `Tessera\Http\WordPressTransport`;
 *                                           otherwise the README's run is skipped
 *                                           (said so), lint and static checks still apply.
 *   Any other marker fails. A block that writes to stderr, exits non-zero or
 *   prints a PHP warning fails.
 */
final class ReadmeSnippetsTest extends TestCase
{
    private const READMES = ['php-ext/README.md', 'php/README.md'];
    private const ROOT = __DIR__ . '/../..';

    /** @return array<string, array{string}> */
    public static function readmes(): array
    {
        return array_combine(self::READMES, array_map(fn ($r) => [$r], self::READMES));
    }

    /**
     * The ```php blocks of a README with their marker.
     *
     * @return list<array{line: int, marker: ?string, code: string}>
     */
    private static function blocks(string $readme): array
    {
        $lines = file(self::ROOT . '/' . $readme, FILE_IGNORE_NEW_LINES);
        $blocks = [];
        $n = count($lines);
        for ($i = 0; $i < $n; $i++) {
            if (trim($lines[$i]) !== '```php') {
                continue;
            }
            $marker = null;
            for ($j = $i - 1; $j >= 0 && trim($lines[$j]) === ''; $j--) {
            }
            if ($j >= 0 && preg_match('/^<!--\s*readme-test:\s*(.*?)\s*-->$/', trim($lines[$j]), $m)) {
                $marker = $m[1];
            }
            $code = [];
            for ($k = $i + 1; $k < $n && trim($lines[$k]) !== '```'; $k++) {
                $code[] = $lines[$k];
            }
            if ($k >= $n) {
                throw new \RuntimeException("$readme:" . ($i + 1) . ': a ```php block is not closed');
            }
            $blocks[] = ['line' => $i + 1, 'marker' => $marker, 'code' => implode("\n", $code) . "\n"];
            $i = $k;
        }
        return $blocks;
    }

    /** @dataProvider readmes */
    public function testEveryBlockIsRunOrMarked(string $readme): void
    {
        $blocks = self::blocks($readme);
        $this->assertNotEmpty($blocks, "$readme has no ```php block");
        foreach ($blocks as $b) {
            $where = "$readme:{$b['line']}";
            $m = $b['marker'];
            $ok = $m === null || $m === 'shared' || $m === 'needs Tessera\\Http' || preg_match('/^skip \(\S.*\)$/', $m) === 1;
            $this->assertTrue($ok, "$where: unknown marker `$m` (shared, needs Tessera\\Http, skip (reason))");
        }
    }

    /** @dataProvider readmes */
    public function testEveryBlockLints(string $readme): void
    {
        foreach (self::blocks($readme) as $b) {
            $file = $this->tempFile("<?php\n" . $b['code']);
            exec(escapeshellarg(PHP_BINARY) . ' -n -l ' . escapeshellarg($file) . ' 2>&1', $out, $rc);
            $this->assertSame(0, $rc, "$readme:{$b['line']} does not lint:\n" . implode("\n", $out));
        }
    }

    /** @dataProvider readmes */
    public function testCallsAndNamedArgumentsExist(string $readme): void
    {
        $blocks = self::blocks($readme);
        $defined = self::functionsDefinedIn(self::prelude());
        foreach ($blocks as $b) {
            $defined = array_merge($defined, self::functionsDefinedIn($b['code']));
        }
        foreach ($blocks as $b) {
            foreach (self::problems($b['code'], $defined) as $problem) {
                $this->fail("$readme:{$b['line']}: $problem");
            }
        }
        $this->addToAssertionCount(1);
    }

    /** The checker itself: a wrong named argument, an unknown function and an unknown class are found. */
    public function testTheStaticCheckFindsMistakes(): void
    {
        $code = "use Tessera\\Companion;\nuse Tessera\\Nope;\n"
            . "\$c = Companion::create(config: [], seal_key: 'x');\n"
            . "\$c->register(registration: [], transport: fn () => [], persistence: null);\n"
            . "get_optoin('x');\n";
        $problems = implode("\n", self::problems($code, []));
        $this->assertStringContainsString('create() has no parameter `seal_key`', $problems);
        $this->assertStringContainsString('register() has no parameter `persistence`', $problems);
        $this->assertStringContainsString('get_optoin() is not defined', $problems);
        $this->assertStringContainsString('Tessera\\Nope does not exist', $problems);
        $this->assertSame([], self::problems("\$c->register(registration: [], transport: fn () => [], persist: null);\n", []));
    }

    /** @dataProvider readmes */
    public function testBlocksRunInOrder(string $readme): void
    {
        $blocks = self::blocks($readme);
        $http = class_exists('Tessera\\Http\\WordPressTransport');
        foreach ($blocks as $b) {
            if ($b['marker'] === 'needs Tessera\\Http' && !$http) {
                $this->markTestSkipped("$readme:{$b['line']} needs Tessera\\Http\\WordPressTransport, which this implementation does not have yet");
            }
        }
        $dir = $this->tempDir();
        file_put_contents("$dir/prelude.php", self::prelude());
        $shared = '';
        $ran = 0;
        foreach ($blocks as $b) {
            if ($b['marker'] !== null && str_starts_with($b['marker'], 'skip')) {
                continue;
            }
            $code = $b['code'];
            if ($b['marker'] === 'shared') {
                $shared .= $code;
                $code = '';
            }
            $file = "$dir/block-{$b['line']}.php";
            file_put_contents($file, "<?php\nrequire __DIR__ . '/prelude.php';\n" . $shared . $code);
            [$rc, $stdout, $stderr] = self::runPhp($file, $dir);
            $where = "$readme:{$b['line']}";
            $this->assertSame('', $stderr, "$where wrote to stderr:\n$stderr\n$stdout");
            $this->assertSame(0, $rc, "$where exited with $rc:\n$stdout");
            $this->assertDoesNotMatchRegularExpression('/(Warning|Notice|Deprecated|Fatal error|Uncaught)/', $stdout, "$where:\n$stdout");
            file_put_contents("$dir/output.txt", $stdout, FILE_APPEND);
            $ran++;
        }
        $this->assertGreaterThan(0, $ran, "$readme: no block ran");
        $sent = is_file("$dir/requests.jsonl") ? array_map(fn ($l) => json_decode($l, true), file("$dir/requests.jsonl", FILE_IGNORE_NEW_LINES)) : [];
        $output = (string) @file_get_contents("$dir/output.txt");
        if ($readme === 'php-ext/README.md') {
            // The lifecycle happened: registered, connected, called with a signature, uninstalled.
            $routes = array_map(fn ($r) => $r['method'] . ' ' . parse_url($r['url'], PHP_URL_PATH), $sent);
            $this->assertContains('POST /installations', $routes, implode("\n", $routes));
            $this->assertContains('POST /connect/complete', $routes);
            $this->assertContains('GET /api/orders', $routes);
            $this->assertContains('GET /events', $routes);
            $this->assertContains('PUT /events/push', $routes);
            $this->assertStringContainsString('a push not from the broker: 401', $output);
            $call = $sent[array_search('GET /api/orders', $routes, true)];
            $this->assertContains('signature', $call['headers']);
            $this->assertStringContainsString('Connected to Stora account Readme Storage (op_readme)', $output);
            $options = json_decode((string) file_get_contents("$dir/options.json"), true);
            $this->assertArrayNotHasKey('my_plugin_tessera', $options, 'uninstall deletes the stored state');
            $this->assertSame(['type' => 'order.updated', 'data' => ['object' => ['id' => 'ord_1']]], $options['my_plugin_event_evt_readme_1'] ?? null, 'the pulled event was handled');
        }
        if ($readme === 'php/README.md') {
            $this->assertStringContainsString('unknown key `config.brokerUrl`; did you mean `broker_url`?', $output);
        }
    }

    /** @return array{int, string, string} exit code, stdout, stderr of a block run with this process's implementation */
    private static function runPhp(string $file, string $dir): array
    {
        $cmd = array_merge([PHP_BINARY], self::iniArgs(), ['-d', 'display_errors=stdout', '-d', 'error_reporting=-1', $file]);
        $env = getenv() + ['TESSERA_README_DIR' => $dir];
        $env['TESSERA_README_DIR'] = $dir;
        $env['TESSERA_README_ROOT'] = realpath(self::ROOT);
        $proc = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, null, $env);
        $stdout = stream_get_contents($pipes[1]);
        $stderr = stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        return [proc_close($proc), (string) $stdout, (string) $stderr];
    }

    /** This process's `-n`, `-c` and `-d` options (so a block runs on the same implementation and extensions). */
    private static function iniArgs(): array
    {
        $argv = explode("\0", rtrim((string) @file_get_contents('/proc/self/cmdline'), "\0"));
        $args = [];
        for ($i = 1; $i < count($argv); $i++) {
            $a = $argv[$i];
            if ($a === '-d' || $a === '-c') {
                array_push($args, $a, $argv[++$i] ?? '');
            } elseif ($a === '-n' || str_starts_with($a, '-d')) {
                $args[] = $a;
            } else {
                break;
            }
        }
        return $args;
    }

    /**
     * Mistakes a block makes: a call to an undefined function, an imported
     * `Tessera\` class that does not exist, a named argument that is not a
     * parameter of the Tessera method or constructor it is passed to.
     *
     * @param list<string> $defined functions the README or the stand-ins define
     * @return list<string>
     */
    private static function problems(string $code, array $defined): array
    {
        $http = class_exists('Tessera\\Http\\WordPressTransport');
        $tokens = array_values(array_filter(
            \PhpToken::tokenize("<?php\n" . $code),
            fn (\PhpToken $t) => !$t->is([T_WHITESPACE, T_COMMENT, T_DOC_COMMENT, T_OPEN_TAG]),
        ));
        $problems = [];
        $imports = [];
        $tessera = ['Tessera\\Companion', 'Tessera\\Verifier', 'Tessera\\Http\\WordPressTransport', 'Tessera\\Http\\Psr18Transport'];
        foreach ($tokens as $i => $t) {
            // use Tessera\X;
            if ($t->is(T_USE) && isset($tokens[$i + 1]) && $tokens[$i + 1]->is(T_NAME_QUALIFIED)) {
                $name = $tokens[$i + 1]->text;
                $imports[substr(strrchr('\\' . $name, '\\'), 1)] = $name;
                if (str_starts_with($name, 'Tessera\\') && !class_exists($name) && !($name === 'Tessera\\Http\\' . substr(strrchr($name, '\\'), 1) && !$http)) {
                    $problems[] = "$name does not exist";
                }
                continue;
            }
            if (!$t->is([T_STRING, T_NAME_QUALIFIED, T_NAME_FULLY_QUALIFIED]) || ($tokens[$i + 1]->text ?? '') !== '(') {
                continue;
            }
            $prev = $tokens[$i - 1] ?? null;
            $named = self::namedArguments($tokens, $i + 1);
            if ($prev !== null && $prev->is([T_OBJECT_OPERATOR, T_NULLSAFE_OBJECT_OPERATOR, T_DOUBLE_COLON])) {
                // A method: check the named arguments against every Tessera class that has it.
                $params = null;
                foreach ($tessera as $class) {
                    if (class_exists($class) && method_exists($class, $t->text)) {
                        $params = array_merge($params ?? [], array_map(fn ($p) => $p->getName(), (new \ReflectionMethod($class, $t->text))->getParameters()));
                    }
                }
                foreach ($params === null ? [] : array_diff($named, $params) as $bad) {
                    $problems[] = "{$t->text}() has no parameter `$bad`";
                }
            } elseif ($prev !== null && $prev->is(T_NEW)) {
                $class = ltrim($imports[$t->text] ?? $t->text, '\\');
                if (str_starts_with($class, 'Tessera\\') && class_exists($class)) {
                    $ctor = (new \ReflectionClass($class))->getConstructor();
                    $params = $ctor === null ? [] : array_map(fn ($p) => $p->getName(), $ctor->getParameters());
                    foreach (array_diff($named, $params) as $bad) {
                        $problems[] = "new $class() has no parameter `$bad`";
                    }
                }
            } elseif ($prev === null || !$prev->is([T_FUNCTION, T_FN])) {
                $fn = ltrim($t->text, '\\');
                if (!function_exists($fn) && !in_array(strtolower($fn), $defined, true)) {
                    $problems[] = "$fn() is not defined";
                }
            }
        }
        return $problems;
    }

    /**
     * The names of the named arguments of the call whose `(` is `$tokens[$open]`.
     *
     * @param list<\PhpToken> $tokens
     * @return list<string>
     */
    private static function namedArguments(array $tokens, int $open): array
    {
        $depth = 0;
        $names = [];
        for ($i = $open; $i < count($tokens); $i++) {
            $text = $tokens[$i]->text;
            if (in_array($text, ['(', '[', '{'], true) || $tokens[$i]->is([T_CURLY_OPEN, T_DOLLAR_OPEN_CURLY_BRACES])) {
                $depth++;
            } elseif (in_array($text, [')', ']', '}'], true)) {
                if (--$depth === 0) {
                    break;
                }
            } elseif ($depth === 1 && ($tokens[$i + 1]->text ?? '') === ':' && in_array($tokens[$i - 1]->text, ['(', ','], true)) {
                $names[] = $text;
            }
        }
        return $names;
    }

    /** @return list<string> the functions a piece of code declares (lower case) */
    private static function functionsDefinedIn(string $code): array
    {
        preg_match_all('/\bfunction\s+([A-Za-z_]\w*)\s*\(/', $code, $m);
        return array_map('strtolower', $m[1]);
    }

    /**
     * Loaded before every block: the implementation under test (pure PHP when
     * the extension is not loaded), then stand-ins for WordPress and for the
     * broker, all state in files of TESSERA_README_DIR: the options
     * (options.json), what the broker was sent (requests.jsonl), where the
     * browser was sent (redirects.json, which the next block's request URI
     * follows back from the broker, as a browser would).
     */
    private static function prelude(): string
    {
        return <<<'PHP'
            <?php
            declare(strict_types=1);
            if ((getenv('TESSERA_IMPL') ?: 'extension') === 'extension' && !extension_loaded('tessera')) {
                fwrite(STDERR, "the extension under test is not loaded in the block's process\n");
                exit(2);
            }
            if (!extension_loaded('tessera') && !class_exists('Tessera\\Companion')) {
                require (getenv('TESSERA_PURE_DIR') ?: getenv('TESSERA_README_ROOT') . '/php') . '/autoload.php';
            }
            const LOGGED_IN_KEY = 'readme-test-logged-in-key-0123456789';
            const LOGGED_IN_SALT = 'readme-test-logged-in-salt-9876543210';
            const MY_PLUGIN_VERSION = '1.0.0';
            function readme_file(string $name): string { return getenv('TESSERA_README_DIR') . '/' . $name; }
            function readme_options(): array { return is_file(readme_file('options.json')) ? json_decode(file_get_contents(readme_file('options.json')), true) : ['admin_email' => 'owner@shop.example']; }
            function readme_save_options(array $o): void { file_put_contents(readme_file('options.json'), json_encode($o)); }
            function get_option(string $name, mixed $default = false): mixed { return readme_options()[$name] ?? $default; }
            function update_option(string $name, mixed $value, mixed $autoload = null): bool { $o = readme_options(); $o[$name] = $value; readme_save_options($o); return true; }
            function delete_option(string $name): bool { $o = readme_options(); unset($o[$name]); readme_save_options($o); return true; }
            function home_url(string $path = ''): string { return 'https://shop.example' . $path; }
            function admin_url(string $path = ''): string { return 'https://shop.example/wp-admin/' . $path; }
            function esc_html(string $s): string { return htmlspecialchars($s, ENT_QUOTES); }
            function wp_redirect(string $location, int $status = 302): bool { file_put_contents(readme_file('redirects.json'), json_encode($location) . "\n", FILE_APPEND); return true; }
            function wp_safe_redirect(string $location, int $status = 302): bool { return wp_redirect($location, $status); }
            function wp_schedule_single_event(int $timestamp, string $hook, array $args = []): bool { return true; }
            final class WP_Error { public function __construct(private string $message = '') {} public function get_error_message(): string { return $this->message; } }
            function is_wp_error(mixed $thing): bool { return $thing instanceof WP_Error; }
            function wp_remote_retrieve_response_code(array|WP_Error $r): int|string { return is_array($r) ? $r['response']['code'] : ''; }
            function wp_remote_retrieve_headers(array|WP_Error $r): array { return is_array($r) ? $r['headers'] : []; }
            function wp_remote_retrieve_body(array|WP_Error $r): string { return is_array($r) ? $r['body'] : ''; }
            /** The broker: answers as the reference broker does, and records what it was sent (no values but the route). */
            function wp_remote_request(string $url, array $args = []): array|WP_Error
            {
                $method = strtoupper($args['method'] ?? 'GET');
                $path = (string) parse_url($url, PHP_URL_PATH);
                file_put_contents(readme_file('requests.jsonl'), json_encode(['method' => $method, 'url' => $url, 'headers' => array_map('strtolower', array_keys($args['headers'] ?? [])), 'redirection' => $args['redirection'] ?? null]) . "\n", FILE_APPEND);
                [$status, $body] = match (true) {
                    $method === 'POST' && $path === '/installations' => [201, '{}'],
                    $method === 'POST' && $path === '/connect/complete' => [200, json_encode(['broker_token' => 'btk_readme_token', 'account' => ['id' => 'op_readme', 'name' => 'Readme Storage']])],
                    // A page of Stora's events: one event, then nothing after its cursor.
                    $method === 'GET' && $path === '/events' => [200, str_contains($url, 'after=1&')
                        ? '{"events":[],"cursor":"1","has_more":false}'
                        : '{"events":[{"id":"evt_readme_1","type":"order.updated","api_version":"2025-09","created_at":1700000000,"data":{"object":{"id":"ord_1"}}}],"cursor":"1","has_more":false}'],
                    $method === 'DELETE' => [204, ''],
                    default => [200, '{"orders":[]}'],
                };
                return ['response' => ['code' => $status, 'message' => ''], 'headers' => ['content-type' => 'application/json'], 'body' => $body];
            }
            // The browser: back from the broker's connect page to the return URL, with `state` and a connect `code`.
            $_SERVER['REQUEST_URI'] = '/wp-admin/';
            if (is_file(readme_file('redirects.json'))) {
                foreach (file(readme_file('redirects.json'), FILE_IGNORE_NEW_LINES) as $line) {
                    $to = json_decode($line, true);
                    if (str_starts_with($to, 'https://broker.partner.example/connect?')) {
                        parse_str((string) parse_url($to, PHP_URL_QUERY), $q);
                        $back = parse_url($q['return_url']);
                        $_SERVER['REQUEST_URI'] = $back['path'] . '?' . ($back['query'] ?? '') . '&state=' . rawurlencode($q['state']) . '&code=cc_cmVhZG1lLWNvbm5lY3QtY29kZS0wMTIzNDU2Nzg5';
                    }
                }
            }
            PHP;
    }

    /** @var list<string> */
    private array $temp = [];

    private function tempDir(): string
    {
        $dir = sys_get_temp_dir() . '/tessera-readme-' . bin2hex(random_bytes(6));
        mkdir($dir, 0700);
        $this->temp[] = $dir;
        return $dir;
    }

    private function tempFile(string $contents): string
    {
        $file = $this->tempDir() . '/block.php';
        file_put_contents($file, $contents);
        return $file;
    }

    protected function tearDown(): void
    {
        foreach ($this->temp as $dir) {
            array_map('unlink', glob("$dir/*") ?: []);
            rmdir($dir);
        }
        $this->temp = [];
    }
}
