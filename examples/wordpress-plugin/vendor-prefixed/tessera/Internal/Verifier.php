<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * Broker-side verification of the Tessera signature profile, as a sans-IO
 * sequence (core/src/verify/mod.rs): the verifier never calls back into the
 * broker.
 *
 * 1. {@see begin()} checks everything that needs no secret: parse (bounded),
 *    the `tessera` label selected explicitly, `alg`/`tag`/`keyid`/`nonce`,
 *    `expires = created + 300`, the covered components, the time window and
 *    the body digest. It yields an {@see AwaitingSecret}.
 * 2. The broker looks up the secret of {@see AwaitingSecret::keyid()} and
 *    hands it to {@see AwaitingSecret::check()}, which checks the MAC
 *    (constant time), once. It yields an {@see AwaitingReplay}.
 * 3. The broker records {@see AwaitingReplay::replayKey()} until
 *    {@see AwaitingReplay::expiresAt()} and hands the store's
 *    {@see ReplayAnswer} to {@see AwaitingReplay::finish()}, which yields the
 *    {@see Verified} request.
 *
 * Every step's failure is a {@see Refusal}: the error, and the wire answer the
 * broker sends for it. The nonce is recorded only after the MAC verified, so a
 * forged request cannot burn one. {@see verify()} runs the three steps with a
 * closure and a {@see ReplayStore}.
 */
final class Verifier
{
    /** Default accepted clock difference, in seconds. */
    public const DEFAULT_WINDOW_SECS = 300;
    /** Largest accepted window (a day). */
    public const MAX_WINDOW_SECS = 86_400;

    /** Header fields verification reads, by index. */
    private const FIELD_NAMES = [
        'signature-input' => 0, 'signature' => 1, 'content-digest' => 2, 'content-type' => 3, 'authorization' => 4,
        'idempotency-key' => 5,
    ];
    private const BAD_SIG_LEN = 'signature must be a 32-byte byte sequence';

    /**
     * @param int $windowSecs accepted difference between `created` and the broker clock (0 to MAX_WINDOW_SECS;
     *        anything else makes `begin` refuse with invalid_input)
     */
    public function __construct(public readonly int $windowSecs = self::DEFAULT_WINDOW_SECS)
    {
    }

    /** MACs computed by verification (requests, connect URLs, tickets): Rust's test-hooks `mac_checks()`. */
    private static int $macChecks = 0;

    /** How many MACs verification computed in this process (requests, connect URLs, tickets). */
    public static function macChecks(): int
    {
        return self::$macChecks;
    }

    /** Counts one MAC computation. */
    public static function countMac(): void
    {
        self::$macChecks++;
    }

    /** `HMAC-SHA256(secret, data)` compared in constant time with `mac` (counted). */
    public static function macMatches(Secret $secret, #[\SensitiveParameter] string $data, string $mac): bool
    {
        self::countMac();
        return hash_equals(Signature::hmacSha256($secret->expose(), $data), $mac);
    }

    /**
     * Step 1: checks everything about `req` (its `url` absolute, as the
     * broker's public URL for it) that needs no secret, at broker time `now`.
     *
     * @throws Refusal
     */
    public function begin(#[\SensitiveParameter] Request $req, int $now): AwaitingSecret
    {
        try {
            return $this->parse($req, $now);
        } catch (CoreError $e) {
            throw new Refusal($e, $now);
        }
    }

    /**
     * Runs the three steps: `secretFor` maps a keyid (install id) to its
     * secret, `replay` remembers nonces.
     *
     * @param callable(string): ?Secret $secretFor
     * @throws CoreError
     */
    public function verify(#[\SensitiveParameter] Request $req, int $now, callable $secretFor, ReplayStore $replay): Verified
    {
        try {
            $pending = $this->begin($req, $now);
            return $pending->check($secretFor($pending->keyid()))->recordIn($replay);
        } catch (Refusal $r) {
            throw $r->error();
        }
    }

    /** @throws CoreError */
    private function parse(#[\SensitiveParameter] Request $req, int $now): AwaitingSecret
    {
        if ($this->windowSecs < 0 || $this->windowSecs > self::MAX_WINDOW_SECS) {
            throw CoreError::invalidInput('window_secs', 'must be 0 to 86400 seconds');
        }
        if (\strlen($req->body) > Http::MAX_BODY) {
            throw CoreError::tooLarge('body', Http::MAX_BODY);
        }
        $url = Url::parse($req->url, 'url');
        $method = Http::normalizeMethod($req->method);

        $fields = self::fields($req->headers);
        $input = $fields[0] ?? null;
        $sigs = $fields[1] ?? null;
        if ($input === null || $sigs === null) {
            throw CoreError::signatureMissing();
        }
        $input = Sfv::parseDictionary($input);
        $fastMac = self::singleByteSeq($sigs, Sign::LABEL);
        $sigDict = $fastMac === null ? Sfv::parseDictionary($sigs) : [];
        $list = self::find($input, Sign::LABEL);
        if ($list === null) {
            throw CoreError::signatureMissing();
        }
        if (!$list instanceof SfvInnerList) {
            throw CoreError::signatureMalformed('signature-input member must be an inner list');
        }
        if ($fastMac !== null) {
            if (\strlen($fastMac) !== 32) {
                throw CoreError::signatureMalformed(self::BAD_SIG_LEN);
            }
            $mac = $fastMac;
        } else {
            $member = self::find($sigDict, Sign::LABEL);
            if ($member === null) {
                throw CoreError::signatureMissing();
            }
            if (!$member instanceof SfvItem) {
                throw CoreError::signatureMalformed('signature must be a byte sequence');
            }
            if ($member->bare->type !== SfvBareItem::BYTE_SEQ || \strlen((string) $member->bare->value) !== 32) {
                throw CoreError::signatureMalformed(self::BAD_SIG_LEN);
            }
            $mac = (string) $member->bare->value;
        }
        [$created, $expires, $nonce, $keyid] = self::profileParams($list);

        $covered = Signature::coveredComponents($list);
        foreach ($covered as $c) {
            if (!\in_array($c, Sign::DERIVED, true) && !\in_array($c, Sign::OPTIONAL_HEADERS, true)) {
                throw CoreError::signatureMalformed('covers a component outside the profile');
            }
        }
        foreach ([...Sign::DERIVED, 'content-digest'] as $d) {
            if (!\in_array($d, $covered, true)) {
                throw CoreError::signatureMalformed('a required component is not covered');
            }
        }
        foreach (Sign::OPTIONAL_HEADERS as $h) {
            if (isset($fields[self::FIELD_NAMES[$h]]) && !\in_array($h, $covered, true)) {
                throw CoreError::signatureMalformed('a present profile header is not covered');
            }
        }

        $diff = $now >= $created ? $now - $created : $created - $now; // may become a float: then it is huge
        if ($diff > $this->windowSecs || $expires < $now) {
            throw CoreError::signatureExpired();
        }

        $digestField = $fields[2] ?? null;
        if ($digestField === null) {
            throw CoreError::signatureMalformed('content-digest is missing');
        }
        $want = self::singleByteSeq($digestField, 'sha-256');
        if ($want === null) {
            $item = self::find(Sfv::parseDictionary($digestField), 'sha-256');
            if (!$item instanceof SfvItem) {
                throw CoreError::signatureMalformed('content-digest lacks sha-256');
            }
            if ($item->bare->type !== SfvBareItem::BYTE_SEQ) {
                throw CoreError::signatureMalformed('content-digest sha-256 must be a byte sequence');
            }
            $want = (string) $item->bare->value;
        }
        if (!hash_equals($want, hash('sha256', $req->body, true))) {
            throw CoreError::digestMismatch();
        }

        $msg = MessageView::of($method, $url, $url->authority(), $req->headers);
        try {
            $base = Signature::signatureBase($msg, $list);
        } catch (CoreError) {
            $base = null;
        }
        $auth = $fields[4] ?? null;
        $bearer = $auth !== null && str_starts_with($auth, 'Bearer ') ? Text::trim(substr($auth, 7)) : null;
        return new AwaitingSecret(new Verified($keyid, $created, $expires, $nonce, $fields[5] ?? null, $bearer), $mac, $base, $now);
    }

    /**
     * The header fields verification reads, each with all of its field lines
     * (trimmed) combined with `", "`, by index of FIELD_NAMES.
     *
     * @param list<array{0: string, 1: string}> $headers
     * @return array<int, string>
     */
    private static function fields(array $headers): array
    {
        $values = [];
        foreach ($headers as [$k, $v]) {
            $i = self::FIELD_NAMES[Text::asciiLower($k)] ?? null;
            if ($i === null) {
                continue;
            }
            $v = Text::trim($v);
            $values[$i] = isset($values[$i]) ? $values[$i] . ', ' . $v : $v;
        }
        return $values;
    }

    /**
     * @param list<array{0: string, 1: SfvItem|SfvInnerList}> $dict
     */
    private static function find(array $dict, string $key): SfvItem|SfvInnerList|null
    {
        foreach ($dict as [$k, $member]) {
            if ($k === $key) {
                return $member;
            }
        }
        return null;
    }

    /**
     * A field that is exactly `label=:base64:` decoded without the general
     * parser; null for any other shape.
     */
    private static function singleByteSeq(string $field, string $label): ?string
    {
        $prefix = $label . '=:';
        $pl = \strlen($prefix);
        if (\strlen($field) < $pl + 1 || !str_starts_with($field, $prefix) || $field[-1] !== ':') {
            return null;
        }
        $b64 = substr($field, $pl, -1);
        if (preg_match('/^[A-Za-z0-9+\/=]*$/D', $b64) !== 1) { // B64_CHARS (a class: strspn() scans the set per byte)
            return null;
        }
        return Encoding::b64Decode($b64);
    }

    /**
     * @return array{0: int, 1: int, 2: string, 3: string} created, expires, nonce, keyid
     */
    private static function profileParams(SfvInnerList $list): array
    {
        $p = [];
        foreach ($list->params as [$k, $v]) {
            $want = match ($k) {
                'created', 'expires' => SfvBareItem::INTEGER,
                'nonce', 'alg', 'keyid', 'tag' => SfvBareItem::STRING,
                default => null,
            };
            if ($want === null || $v->type !== $want) {
                throw CoreError::signatureMalformed('unexpected or mistyped signature parameter');
            }
            $p[$k] = $v->value;
        }
        if (\count($p) !== 6) {
            throw CoreError::signatureMalformed('missing signature parameter');
        }
        if ($p['alg'] !== Sign::ALG) {
            throw CoreError::signatureMalformed('alg must be hmac-sha256');
        }
        if ($p['tag'] !== Sign::TAG) {
            throw CoreError::signatureMalformed('tag must be tessera-v1');
        }
        if (!Sign::isProfileToken($p['nonce']) || !Sign::isProfileToken($p['keyid'])) {
            throw CoreError::signatureMalformed('nonce and keyid must be [A-Za-z0-9._~-]');
        }
        // The profile fixes the validity: a signer cannot ask for a nonce to be
        // kept longer (nor for a longer-lived capture). SF integers are at most
        // 15 digits: the sum stays an int.
        if ($p['created'] + Sign::VALIDITY_SECS !== $p['expires']) {
            throw CoreError::signatureInvalid();
        }
        return [$p['created'], $p['expires'], $p['nonce'], $p['keyid']];
    }
}
