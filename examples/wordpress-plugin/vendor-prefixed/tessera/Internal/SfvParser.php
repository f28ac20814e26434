<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * The bounded RFC 8941 dictionary parser behind `Sfv::parseDictionary` (the
 * private `Parser` of core/src/sfv.rs). Errors are thrown as
 * `signature_malformed` carrying the Rust parse-error text.
 *
 * @internal
 */
final class SfvParser
{
    private const MAX_MEMBERS = 64;
    private const MAX_INNER = 64;
    private const MAX_PARAMS = 32;
    private const MAX_KEY = 64;

    private const DIGITS = '0123456789';
    // Runs of these sets are matched as character classes from the current
    // offset (a bitmap lookup, where strspn() scans its set for every byte).
    /** Key characters: lowercase, digits, `_-.*`. */
    private const KEY_SPAN = '/\G[a-z0-9_\-.*]*/';
    /** Token characters: tchar plus `:` and `/`. */
    private const TOKEN_SPAN = '/\G[A-Za-z0-9!#$%&\'*+\-.^_`|~:\/]*/';
    /** Base64 characters and `=`. */
    private const B64_SPAN = '/\G[A-Za-z0-9+\/=]*/';
    /** Printable ASCII and space, without `"` and `\`. */
    private const STRING_SPAN = '/\G[ !#-\[\]-~]*/';

    private int $i = 0;
    private int $n;

    private function __construct(private string $s)
    {
        $this->n = \strlen($s);
    }

    /**
     * Parses a dictionary field value (RFC 8941 §4.2.2); a repeated key keeps
     * its last value in its first position.
     *
     * @return list<array{0: string, 1: SfvItem|SfvInnerList}>
     * @throws CoreError signature_malformed
     */
    public static function dictionary(string $input): array
    {
        if (\strlen($input) > Sfv::MAX_FIELD_LEN) {
            throw self::fail('field too long');
        }
        $p = new self($input);
        $p->i = strspn($input, ' ');
        $out = [];
        $index = [];
        if ($p->i >= $p->n) {
            return $out;
        }
        while (true) {
            $key = $p->key();
            if ($p->eat('=')) {
                $member = $p->peek() === '(' ? $p->innerList() : $p->item();
            } else {
                $member = new SfvItem(SfvBareItem::boolean(true), $p->params());
            }
            if (isset($index[$key])) {
                $out[$index[$key]][1] = $member;
            } else {
                if (\count($out) >= self::MAX_MEMBERS) {
                    throw self::fail('too many members');
                }
                $index[$key] = \count($out);
                $out[] = [$key, $member];
            }
            $p->i += strspn($p->s, " \t", $p->i);
            if ($p->i >= $p->n) {
                return $out;
            }
            if (!$p->eat(',')) {
                throw self::fail('expected , between members');
            }
            $p->i += strspn($p->s, " \t", $p->i);
            if ($p->i >= $p->n) {
                throw self::fail('trailing comma');
            }
        }
    }

    private static function fail(string $what): CoreError
    {
        return CoreError::signatureMalformed($what);
    }

    private function peek(): ?string
    {
        return $this->s[$this->i] ?? null;
    }

    private function eat(string $c): bool
    {
        if (($this->s[$this->i] ?? null) === $c) {
            $this->i++;
            return true;
        }
        return false;
    }

    private function key(): string
    {
        $c = $this->s[$this->i] ?? '';
        if ($c !== '*' && ($c === '' || \ord($c) < 0x61 || \ord($c) > 0x7A)) {
            throw self::fail('key must start with a lowercase letter or *');
        }
        $len = $this->span(self::KEY_SPAN);
        if ($len > self::MAX_KEY) {
            throw self::fail('key too long');
        }
        $key = substr($this->s, $this->i, $len);
        $this->i += $len;
        return $key;
    }

    /**
     * @return list<array{0: string, 1: SfvBareItem}>
     */
    private function params(): array
    {
        $out = [];
        $index = [];
        while ($this->eat(';')) {
            $this->i += strspn($this->s, ' ', $this->i);
            $key = $this->key();
            $value = $this->eat('=') ? $this->bareItem() : SfvBareItem::boolean(true);
            if (isset($index[$key])) {
                $out[$index[$key]][1] = $value;
            } else {
                if (\count($out) >= self::MAX_PARAMS) {
                    throw self::fail('too many parameters');
                }
                $index[$key] = \count($out);
                $out[] = [$key, $value];
            }
        }
        return $out;
    }

    private function item(): SfvItem
    {
        $bare = $this->bareItem();
        return new SfvItem($bare, $this->params());
    }

    private function innerList(): SfvInnerList
    {
        if (!$this->eat('(')) {
            throw self::fail('expected (');
        }
        $items = [];
        while (true) {
            $this->i += strspn($this->s, ' ', $this->i);
            if ($this->eat(')')) {
                return new SfvInnerList($items, $this->params());
            }
            if (\count($items) >= self::MAX_INNER) {
                throw self::fail('inner list too long');
            }
            $items[] = $this->item();
            $c = $this->peek();
            if ($c !== ' ' && $c !== ')') {
                throw self::fail('inner list items must be separated by a space');
            }
        }
    }

    private function bareItem(): SfvBareItem
    {
        $o = \ord($this->s[$this->i] ?? "\0");
        if ($o === 0x22) {
            return $this->string();
        }
        if ($o === 0x2D || ($o >= 0x30 && $o <= 0x39)) {
            return $this->number();
        }
        if ($o === 0x3A) {
            return $this->byteSeq();
        }
        if ($o === 0x3F) {
            return $this->boolean();
        }
        if ($o === 0x2A || ($o >= 0x41 && $o <= 0x5A) || ($o >= 0x61 && $o <= 0x7A)) {
            return $this->token();
        }
        throw self::fail('expected a bare item');
    }

    private function number(): SfvBareItem
    {
        $neg = $this->eat('-');
        $intDigits = strspn($this->s, self::DIGITS, $this->i);
        if ($intDigits === 0) {
            throw self::fail('number without digits');
        }
        $intText = substr($this->s, $this->i, $intDigits);
        $this->i += $intDigits;
        $sign = $neg ? -1 : 1;
        if (!$this->eat('.')) {
            if ($intDigits > 15) {
                throw self::fail('integer too long');
            }
            return SfvBareItem::integer($sign * (int) $intText);
        }
        $fracDigits = strspn($this->s, self::DIGITS, $this->i);
        $fracText = substr($this->s, $this->i, $fracDigits);
        $this->i += $fracDigits;
        if ($intDigits > 12 || $fracDigits === 0 || $fracDigits > 3) {
            throw self::fail('decimal out of range');
        }
        $fv = (int) $fracText * 10 ** (3 - $fracDigits);
        return SfvBareItem::decimal($sign * ((int) $intText * 1000 + $fv));
    }

    private function string(): SfvBareItem
    {
        $this->i++;
        $out = '';
        while (true) {
            $run = $this->span(self::STRING_SPAN);
            $out .= substr($this->s, $this->i, $run);
            $this->i += $run;
            $c = $this->peek();
            if ($c === null) {
                throw self::fail('unterminated string');
            }
            $this->i++;
            if ($c === '"') {
                return SfvBareItem::string($out);
            }
            if ($c !== '\\') {
                throw self::fail('string has a non-printable character');
            }
            $e = $this->peek();
            if ($e !== null) {
                $this->i++;
            }
            if ($e !== '"' && $e !== '\\') {
                throw self::fail('bad escape in string');
            }
            $out .= $e;
        }
    }

    private function token(): SfvBareItem
    {
        $start = $this->i;
        $this->i++;
        $this->i += $this->span(self::TOKEN_SPAN);
        return SfvBareItem::token(substr($this->s, $start, $this->i - $start));
    }

    private function byteSeq(): SfvBareItem
    {
        $this->i++;
        $len = $this->span(self::B64_SPAN);
        $body = substr($this->s, $this->i, $len);
        $this->i += $len;
        if (!$this->eat(':')) {
            throw self::fail('unterminated byte sequence');
        }
        $bytes = Encoding::b64Decode($body);
        if ($bytes === null) {
            throw self::fail('byte sequence is not base64');
        }
        return SfvBareItem::byteSeq($bytes);
    }

    private function boolean(): SfvBareItem
    {
        $this->i++;
        $c = $this->peek();
        if ($c !== null) {
            $this->i++;
        }
        return match ($c) {
            '1' => SfvBareItem::boolean(true),
            '0' => SfvBareItem::boolean(false),
            default => throw self::fail('bad boolean'),
        };
    }

    /** Length of the run of bytes matched by `$class` (one of the `*_SPAN` patterns) at the current offset. */
    private function span(string $class): int
    {
        preg_match($class, $this->s, $m, 0, $this->i);
        return \strlen($m[0]);
    }
}
