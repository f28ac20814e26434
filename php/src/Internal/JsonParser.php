<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * The recursive-descent reader behind `Json::parse` (the private `Parser` of
 * core/src/json.rs), with the same error categories and offsets.
 *
 * @internal
 */
final class JsonParser
{
    private const WS = " \t\n\r";
    private const DIGITS = '0123456789';
    /** Bytes that end a plain run inside a string: quote, backslash, controls. */
    /** A run of string bytes up to `"`, `\` or a control character (a class: strcspn() scans its set per byte). */
    private const STRING_RUN = '/\G[^"\\\\\x00-\x1f]*/';
    private const SIMPLE_ESCAPES = ['"' => '"', '\\' => '\\', '/' => '/', 'b' => "\x08", 'f' => "\x0c", 'n' => "\n",
        'r' => "\r", 't' => "\t"];

    private int $i = 0;
    private int $n;

    private function __construct(private string $s)
    {
        $this->n = \strlen($s);
    }

    /**
     * @throws JsonParseError
     */
    public static function document(#[\SensitiveParameter] string $input): JsonValue
    {
        $p = new self($input);
        $p->ws();
        $v = $p->value(0);
        $p->ws();
        if ($p->i !== $p->n) {
            throw $p->err('trailing characters');
        }
        return $v;
    }

    private function err(string $what): JsonParseError
    {
        return new JsonParseError($what, $this->i);
    }

    private function peek(): ?string
    {
        return $this->i < $this->n ? $this->s[$this->i] : null;
    }

    private function ws(): void
    {
        $this->i += strspn($this->s, self::WS, $this->i);
    }

    private function literal(string $word, JsonValue $v): JsonValue
    {
        $len = \strlen($word);
        if (substr($this->s, $this->i, $len) === $word) {
            $this->i += $len;
            return $v;
        }
        throw $this->err('invalid literal');
    }

    private function value(int $depth): JsonValue
    {
        $c = $this->peek();
        return match (true) {
            $c === null => throw $this->err('unexpected end of input'),
            $c === '{' => $this->object($depth + 1),
            $c === '[' => $this->array($depth + 1),
            $c === '"' => new JsonValue(JsonValue::STRING, $this->string()),
            $c === 't' => $this->literal('true', new JsonValue(JsonValue::BOOL, true)),
            $c === 'f' => $this->literal('false', new JsonValue(JsonValue::BOOL, false)),
            $c === 'n' => $this->literal('null', new JsonValue(JsonValue::NULL)),
            $c === '-' || ($c >= '0' && $c <= '9') => $this->number(),
            default => throw $this->err('expected a value'),
        };
    }

    private function object(int $depth): JsonValue
    {
        if ($depth > Json::MAX_DEPTH) {
            throw $this->err('nested too deeply');
        }
        $this->i++;
        $members = [];
        $this->ws();
        if ($this->peek() === '}') {
            $this->i++;
            return new JsonValue(JsonValue::OBJECT, $members);
        }
        while (true) {
            $this->ws();
            if ($this->peek() !== '"') {
                throw $this->err('expected a member name');
            }
            $key = $this->string();
            $this->ws();
            if ($this->peek() !== ':') {
                throw $this->err("expected ':'");
            }
            $this->i++;
            $this->ws();
            $members[] = [$key, $this->value($depth)];
            $this->ws();
            $c = $this->peek();
            if ($c === ',') {
                $this->i++;
            } elseif ($c === '}') {
                $this->i++;
                return new JsonValue(JsonValue::OBJECT, $members);
            } else {
                throw $this->err("expected ',' or '}'");
            }
        }
    }

    private function array(int $depth): JsonValue
    {
        if ($depth > Json::MAX_DEPTH) {
            throw $this->err('nested too deeply');
        }
        $this->i++;
        $items = [];
        $this->ws();
        if ($this->peek() === ']') {
            $this->i++;
            return new JsonValue(JsonValue::ARRAY, $items);
        }
        while (true) {
            $this->ws();
            $items[] = $this->value($depth);
            $this->ws();
            $c = $this->peek();
            if ($c === ',') {
                $this->i++;
            } elseif ($c === ']') {
                $this->i++;
                return new JsonValue(JsonValue::ARRAY, $items);
            } else {
                throw $this->err("expected ',' or ']'");
            }
        }
    }

    private function number(): JsonValue
    {
        $start = $this->i;
        if ($this->peek() === '-') {
            $this->i++;
        }
        $c = $this->peek();
        if ($c === '0') {
            $this->i++;
        } elseif ($c !== null && $c >= '1' && $c <= '9') {
            $this->i += strspn($this->s, self::DIGITS, $this->i);
        } else {
            throw $this->err('invalid number');
        }
        if ($this->peek() === '.') {
            $this->i++;
            $d = strspn($this->s, self::DIGITS, $this->i);
            if ($d === 0) {
                throw $this->err('invalid number');
            }
            $this->i += $d;
        }
        $c = $this->peek();
        if ($c === 'e' || $c === 'E') {
            $this->i++;
            $c = $this->peek();
            if ($c === '+' || $c === '-') {
                $this->i++;
            }
            $d = strspn($this->s, self::DIGITS, $this->i);
            if ($d === 0) {
                throw $this->err('invalid number');
            }
            $this->i += $d;
        }
        return new JsonValue(JsonValue::NUMBER, substr($this->s, $start, $this->i - $start));
    }

    private function hex4(): int
    {
        $n = 0;
        for ($k = 0; $k < 4; $k++) {
            $c = $this->peek();
            if ($c === null || strspn($c, '0123456789abcdefABCDEF') !== 1) {
                throw $this->err('invalid \\u escape');
            }
            $n = $n * 16 + hexdec($c);
            $this->i++;
        }
        return $n;
    }

    private function string(): string
    {
        $this->i++;
        $out = '';
        while (true) {
            preg_match(self::STRING_RUN, $this->s, $m, 0, $this->i);
            $run = \strlen($m[0]);
            $out .= $m[0];
            $this->i += $run;
            $c = $this->peek();
            if ($c === null) {
                throw $this->err('unterminated string');
            }
            if ($c === '"') {
                $this->i++;
                break;
            }
            if ($c !== '\\') {
                throw $this->err('control character in string');
            }
            $this->i++;
            $esc = $this->peek();
            if ($esc === null) {
                throw $this->err('unterminated string');
            }
            $this->i++;
            if ($esc === 'u') {
                $out .= $this->unicodeEscape();
            } elseif (isset(self::SIMPLE_ESCAPES[$esc])) {
                $out .= self::SIMPLE_ESCAPES[$esc];
            } else {
                $this->i--;
                throw $this->err('invalid escape');
            }
        }
        if (!Text::isUtf8($out)) {
            sodium_memzero($out);
            throw $this->err('invalid UTF-8 in string');
        }
        return $out;
    }

    private function unicodeEscape(): string
    {
        $hi = $this->hex4();
        if ($hi >= 0xD800 && $hi < 0xDC00) {
            if (substr($this->s, $this->i, 2) !== '\\u') {
                throw $this->err('lone surrogate');
            }
            $this->i += 2;
            $lo = $this->hex4();
            if ($lo < 0xDC00 || $lo >= 0xE000) {
                throw $this->err('lone surrogate');
            }
            $code = 0x10000 + (($hi - 0xD800) << 10) + ($lo - 0xDC00);
        } else {
            $code = $hi;
        }
        if ($code >= 0xD800 && $code < 0xE000) {
            throw $this->err('lone surrogate');
        }
        return Text::utf8Chr($code);
    }
}
