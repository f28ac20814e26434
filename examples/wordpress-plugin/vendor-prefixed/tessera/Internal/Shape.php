<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * The shape of the array arguments read through the core's serde types
 * (`$config`, `$registration`), port of `php-ext/src/convert/shape.rs`: every
 * key known, every required key present, every value of its type — so that
 * the error names the key and its path (`config.retry.max_attempts`).
 * Messages name keys and PHP types only, never a value (a value may be a
 * secret); the same array gives the same message in both implementations
 * (php/tests/ArrayKeysTest.php).
 */
final class Shape
{
    /** A UTF-8 string. */
    private const STR = 'str';
    /** A PHP int from 0 to the field's max. */
    private const INT = 'int';
    /** A nested array of fields. */
    private const MAP = 'map';

    private const U32_MAX = 4294967295;

    /** @var array<string, array{string, bool, mixed}> name => [kind, required, max or nested fields] */
    private const ROUTES = [
        'installations' => [self::STR, false, null],
        'connect' => [self::STR, false, null],
        'disconnect' => [self::STR, false, null],
        'connect_complete' => [self::STR, false, null],
    ];

    private const RETRY = [
        'max_attempts' => [self::INT, false, self::U32_MAX],
        'base_delay_ms' => [self::INT, false, PHP_INT_MAX],
        'max_delay_ms' => [self::INT, false, PHP_INT_MAX],
        'max_total_delay_ms' => [self::INT, false, PHP_INT_MAX],
        'max_retry_after_ms' => [self::INT, false, PHP_INT_MAX],
    ];

    /** `ProxyConfig`'s keys (authorization-proxy mode), in declaration order. */
    private const PROXY = [
        'stora_api_url' => [self::STR, true, null],
        'refresh_margin_secs' => [self::INT, false, PHP_INT_MAX],
        'token' => [self::STR, false, null],
        'refresh' => [self::STR, false, null],
        'revoke' => [self::STR, false, null],
    ];

    /** `Config`'s keys, in declaration order. */
    public const CONFIG = [
        'broker_url' => [self::STR, true, null],
        'routes' => [self::MAP, false, self::ROUTES],
        'retry' => [self::MAP, false, self::RETRY],
        'proxy' => [self::MAP, false, self::PROXY],
    ];

    /** `Registration`'s keys, in declaration order. */
    public const REGISTRATION = [
        'site_url' => [self::STR, true, null],
        'admin_email' => [self::STR, true, null],
        'platform' => [self::STR, true, null],
        'plugin_version' => [self::STR, true, null],
    ];

    /**
     * Checks `$ht` (the argument or nested array at `$path`) against
     * `$fields`: first every key in the array's order (an unknown key is
     * refused, with the snake_case spelling suggested when that is a known
     * key), then every field in declaration order (missing, wrong type, out of
     * range), nested arrays when their field is reached.
     *
     * @param array<string, array{string, bool, mixed}> $fields
     * @throws CoreError `invalid_input` with the first problem as its message
     */
    public static function check(#[\SensitiveParameter] array $ht, array $fields, string $path): void
    {
        self::checkKeys($ht, array_keys($fields), $path);
        foreach ($fields as $name => [$kind, $required, $extra]) {
            $at = "{$path}.{$name}";
            if (!array_key_exists($name, $ht)) {
                if ($required) {
                    throw self::error("missing key `{$at}` (" . self::expected($kind) . ')');
                }
                continue;
            }
            $z = $ht[$name];
            if ($kind === self::STR) {
                if (!is_string($z)) {
                    throw self::error(self::wrongType($at, $kind, $z));
                }
                if (!Text::isUtf8($z)) {
                    throw self::error("`{$at}` must be valid UTF-8");
                }
            } elseif ($kind === self::INT) {
                if (!is_int($z)) {
                    throw self::error(self::wrongType($at, $kind, $z));
                }
                if ($z < 0) {
                    throw self::error("`{$at}` must not be negative");
                }
                if ($z > $extra) {
                    throw self::error("`{$at}` must be at most {$extra}");
                }
            } else {
                if (!is_array($z)) {
                    throw self::error(self::wrongType($at, $kind, $z));
                }
                self::check($z, $extra, $at);
            }
        }
    }

    /**
     * Refuses the first key of `$ht` (in the array's order) not in `$known`:
     * `unknown key `config.brokerUrl`; did you mean `broker_url`?` (the
     * snake_case spelling suggested when that is known; a key that is not a
     * plain name is not shown).
     *
     * @param list<string> $known
     * @throws CoreError
     */
    public static function checkKeys(#[\SensitiveParameter] array $ht, array $known, string $path): void
    {
        foreach ($ht as $k => $_) {
            if (is_string($k) && in_array($k, $known, true)) {
                continue;
            }
            $key = (string) $k;
            if (preg_match('/\A[A-Za-z0-9_-]{1,64}\z/', $key) !== 1) {
                throw self::error("unknown key in `{$path}` (not shown: not a plain name)");
            }
            $snake = self::snakeCase($key);
            throw self::error(in_array($snake, $known, true)
                ? "unknown key `{$path}.{$key}`; did you mean `{$snake}`?"
                : "unknown key `{$path}.{$key}`");
        }
    }

    /**
     * `brokerUrl`, `BrokerURL`, `broker-url` → `broker_url`: an underscore
     * before an upper-case letter that follows a lower-case letter or a
     * digit, or that starts a word after an acronym; `-` → `_`; lower case
     * (ASCII only: the key is a plain name).
     */
    public static function snakeCase(string $key): string
    {
        $out = '';
        $n = strlen($key);
        for ($i = 0; $i < $n; $i++) {
            $c = $key[$i];
            if ($i > 0 && self::upper($c)) {
                $prev = $key[$i - 1];
                $nextLower = $i + 1 < $n && self::lower($key[$i + 1]);
                if (self::lower($prev) || ($prev >= '0' && $prev <= '9') || (self::upper($prev) && $nextLower)) {
                    $out .= '_';
                }
            }
            $out .= $c === '-' ? '_' : strtolower($c);
        }
        return $out;
    }

    private static function upper(string $c): bool
    {
        return $c >= 'A' && $c <= 'Z';
    }

    private static function lower(string $c): bool
    {
        return $c >= 'a' && $c <= 'z';
    }

    /** `a string`, `an int`, `an array`. */
    private static function expected(string $kind): string
    {
        return match ($kind) {
            self::STR => 'a string',
            self::INT => 'an int',
            default => 'an array',
        };
    }

    /** `` `config.retry.max_attempts` must be an int, got string ``. */
    private static function wrongType(string $at, string $kind, #[\SensitiveParameter] mixed $z): string
    {
        $type = match (true) {
            $z === null => 'null',
            is_bool($z) => 'bool',
            is_int($z) => 'int',
            is_float($z) => 'float',
            is_string($z) => 'string',
            is_array($z) => 'array',
            is_object($z) => 'object',
            default => 'resource',
        };
        return "`{$at}` must be " . self::expected($kind) . ", got {$type}";
    }

    /**
     * The `invalid_input` error with `$message` as its message (the
     * extension's `shape::failure`: its core error holds only static text,
     * so the message is set on the error after it is built).
     */
    private static function error(string $message): CoreError
    {
        $e = CoreError::invalidInput('argument', 'has the wrong shape');
        static $prop = null;
        ($prop ??= new \ReflectionProperty(\Exception::class, 'message'))->setValue($e, $message);
        return $e;
    }
}
