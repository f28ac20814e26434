<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use Tessera\Pure\Internal\Account;
use Tessera\Pure\Internal\Classify;
use Tessera\Pure\Internal\Connect;
use Tessera\Pure\Internal\CoreError;
use Tessera\Pure\Internal\Encoding;
use Tessera\Pure\Internal\HttpDate;
use Tessera\Pure\Internal\Json;
use Tessera\Pure\Internal\JsonParseError;
use Tessera\Pure\Internal\JsonValue;
use Tessera\Pure\Internal\MemoryReplayStore;
use Tessera\Pure\Internal\Registration;
use Tessera\Pure\Internal\Request;
use Tessera\Pure\Internal\Response;
use Tessera\Pure\Internal\Seal;
use Tessera\Pure\Internal\Secret;
use Tessera\Pure\Internal\SeededEntropy;
use Tessera\Pure\Internal\Sfv;
use Tessera\Pure\Internal\SfvBareItem;
use Tessera\Pure\Internal\SfvInnerList;
use Tessera\Pure\Internal\Signature;
use Tessera\Pure\Internal\Url;
use Tessera\Pure\Internal\Verifier;
use Tessera\Pure\Internal\VerifyLinks;

/**
 * The PHP side of the Rust test oracle (php/tests/Internal/oracle/main.rs):
 * runs one operation through the pure-PHP lower layer and returns the same
 * JSON shape the Rust program prints.
 */
final class Oracle
{
    /**
     * @param array<string, mixed> $v
     */
    public static function run(array $v): mixed
    {
        return match ($v['op']) {
            'b64' => [self::hexOrNull(Encoding::b64Decode($v['text'])), self::hexOrNull(Encoding::b64urlDecode($v['text']))],
            'pct' => [Encoding::pctDecodeQuery($v['text']), Encoding::parseQuery($v['text'])],
            'url' => self::url($v),
            'sfv' => self::sfv($v['text']),
            'date' => [HttpDate::parse($v['text']), isset($v['t']) ? HttpDate::format($v['t']) : null],
            'json' => self::json(hex2bin($v['hex'])),
            'jsonw' => Json::writeStr($v['text']),
            'seeded' => self::seeded($v),
            'seal' => self::guard(fn () => Seal::seal(hex2bin($v['pt']), hex2bin($v['key']), hex2bin($v['nonce']))),
            'open' => self::guard(fn () => bin2hex(Seal::open($v['sealed'], hex2bin($v['key'])))),
            'account' => self::guard(function () use ($v) {
                Account::new($v['id'], $v['name']);
                return 'ok';
            }),
            'email' => self::guard(function () use ($v) {
                Registration::checkEmail($v['text']);
                return 'ok';
            }),
            'site' => self::guard(fn () => Registration::siteIdentity($v['text'], 'site_url')),
            'proof' => self::guard(function () use ($v) {
                Registration::verifyOwnershipProof(Secret::fromBase64url($v['secret']), $v['install_id'], $v['challenge'], $v['proof']);
                return 'ok';
            }),
            'classify' => self::classify($v),
            'generic' => self::guard(fn () => Signature::hmacSignGeneric(
                new Request($v['method'], $v['url'], $v['headers'], ''),
                $v['input'],
                hex2bin($v['key']),
            )),
            'verify' => self::verify($v),
            'connect' => self::guard(function () use ($v) {
                $p = VerifyLinks::verifyConnectUrl($v['url'], $v['now'], self::secrets($v['secrets']));
                return ['install_id' => $p->installId, 'state' => $p->state, 'return_url' => $p->returnUrl,
                    'scope' => $p->scope, 'ts' => $p->ts];
            }),
            'ticket' => self::guard(fn () => VerifyLinks::verifyUninstallTicket(
                $v['install_id'],
                $v['url'],
                $v['now'],
                $v['max_age'],
                self::secrets($v['secrets']),
            )),
            'linksig' => Connect::linkSignature(Secret::fromBase64url($v['secret']), $v['context'], $v['pairs']),
            default => throw new \LogicException('unknown op ' . $v['op']),
        };
    }

    /** Sorts object keys recursively so the Rust (sorted) and PHP shapes compare. */
    public static function canonical(mixed $v): mixed
    {
        if (!\is_array($v)) {
            return $v;
        }
        $out = array_map([self::class, 'canonical'], $v);
        if (!array_is_list($out)) {
            ksort($out, \SORT_STRING);
        }
        return $out;
    }

    private static function hexOrNull(?string $b): ?string
    {
        return $b === null ? null : bin2hex($b);
    }

    /**
     * @return array<string, mixed>
     */
    private static function err(CoreError $e): array
    {
        return ['error' => $e->code(), 'message' => $e->getMessage()];
    }

    private static function guard(callable $fn): mixed
    {
        try {
            return $fn();
        } catch (CoreError $e) {
            return self::err($e);
        }
    }

    /**
     * @param array<string, string> $secrets
     */
    private static function secrets(array $secrets): callable
    {
        return static fn (string $k): ?Secret => isset($secrets[$k]) ? Secret::fromBase64url($secrets[$k]) : null;
    }

    /**
     * @param array<string, mixed> $v
     */
    private static function url(array $v): mixed
    {
        try {
            $u = Url::parse($v['text'], 'u');
        } catch (CoreError $e) {
            return self::err($e);
        }
        $joined = isset($v['tail']) ? self::guard(fn () => $u->appendPath($v['tail'], 'p')->asString()) : null;
        return ['url' => $u->asString(), 'authority' => $u->authority(), 'path' => $u->path(), 'query' => $u->query(),
            'loopback' => $u->isLoopback(), 'site' => $u->siteIdentity(), 'joined' => $joined];
    }

    private static function bare(SfvBareItem $b): array
    {
        return [$b->type, $b->type === SfvBareItem::BYTE_SEQ ? bin2hex((string) $b->value) : $b->value];
    }

    private static function params(array $params): array
    {
        return array_map(fn ($p) => [$p[0], self::bare($p[1])], $params);
    }

    private static function sfv(string $text): mixed
    {
        try {
            $d = Sfv::parseDictionary($text);
        } catch (CoreError $e) {
            return ['error' => $e->detail];
        }
        $out = [];
        foreach ($d as [$k, $m]) {
            if ($m instanceof SfvInnerList) {
                $items = array_map(fn ($i) => [self::bare($i->bare), self::params($i->params)], $m->items);
                $out[] = [$k, 'list', $items, self::params($m->params), Sfv::writeInnerList($m)];
            } else {
                $out[] = [$k, 'item', self::bare($m->bare), self::params($m->params),
                    Sfv::writeBare($m->bare) . Sfv::writeParams($m->params)];
            }
        }
        return $out;
    }

    private static function jv(JsonValue $v): array
    {
        return match ($v->kind) {
            JsonValue::NULL => ['null'],
            JsonValue::BOOL => ['bool', $v->value],
            JsonValue::NUMBER => ['num', $v->value, $v->asU64Text(), $v->asI64()],
            JsonValue::STRING => ['str', bin2hex($v->value)],
            JsonValue::ARRAY => ['arr', array_map([self::class, 'jv'], $v->value)],
            default => ['obj', array_map(fn ($m) => [bin2hex($m[0]), self::jv($m[1])], $v->value)],
        };
    }

    private static function json(string $bytes): mixed
    {
        try {
            return self::jv(Json::parse($bytes));
        } catch (JsonParseError $e) {
            return ['error' => $e->what, 'at' => $e->at, 'message' => $e->getMessage()];
        }
    }

    /**
     * @param array<string, mixed> $v
     * @return list<string>
     */
    private static function seeded(array $v): array
    {
        $e = new SeededEntropy(hex2bin($v['seed']));
        return array_map(fn (int $n) => bin2hex($e->fill($n)), $v['lens']);
    }

    /**
     * @param array<string, mixed> $v
     */
    private static function classify(array $v): array
    {
        $o = Classify::classify(new Response($v['status'], $v['headers'], hex2bin($v['body'])), $v['now']);
        $e = $o->toError(2);
        return [$o->kind, $o->status, $o->code, $o->retryAfterMs, $o->serverDate, $e === null ? null : self::err($e)];
    }

    /**
     * @param array<string, mixed> $v
     */
    private static function verify(array $v): array
    {
        $store = new MemoryReplayStore($v['capacity'] ?? 1024);
        $verifier = new Verifier($v['window'] ?? 300);
        $secrets = self::secrets($v['secrets']);
        $out = [];
        foreach ($v['requests'] as $r) {
            $out[] = self::guard(function () use ($r, $verifier, $secrets, $store) {
                $x = $verifier->verify(new Request($r['method'], $r['url'], $r['headers'], hex2bin($r['body'])), $r['now'], $secrets, $store);
                return ['install_id' => $x->installId, 'created' => $x->created, 'expires' => $x->expires,
                    'nonce' => $x->nonce, 'idempotency_key' => $x->idempotencyKey, 'bearer' => $x->bearer];
            });
        }
        return $out;
    }
}
