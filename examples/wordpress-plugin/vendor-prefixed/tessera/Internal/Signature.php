<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * A generic RFC 9421 signature base builder and the HMAC-SHA256 primitive
 * (core/src/signature.rs); generic enough to reproduce RFC 9421 Appendix
 * B.2.5 exactly.
 */
final class Signature
{
    /**
     * The covered component names of a signature-params inner list. Component
     * parameters and duplicates are outside the profile and rejected.
     *
     * @return list<string>
     * @throws CoreError signature_malformed
     */
    public static function coveredComponents(SfvInnerList $params): array
    {
        $names = [];
        foreach ($params->items as $item) {
            if ($item->bare->type !== SfvBareItem::STRING) {
                throw CoreError::signatureMalformed('component identifiers must be strings');
            }
            if ($item->params !== []) {
                throw CoreError::signatureMalformed('component parameters are not supported');
            }
            $name = $item->bare->value;
            \assert(\is_string($name));
            if (\in_array($name, $names, true)) {
                throw CoreError::signatureMalformed('a component is covered twice');
            }
            $names[] = $name;
        }
        return $names;
    }

    /**
     * The signature base (RFC 9421 §2.5) for `msg` and the signature-params
     * inner list `params`.
     *
     * @throws CoreError signature_malformed
     */
    public static function signatureBase(MessageView $msg, SfvInnerList $params): string
    {
        $paramsText = Sfv::writeInnerList($params);
        return self::signatureBaseParts($msg, self::coveredComponents($params), $paramsText);
    }

    /**
     * The signature base from the covered component names and the
     * already-serialised signature-params value.
     *
     * @param list<string> $components
     * @throws CoreError signature_malformed
     */
    public static function signatureBaseParts(MessageView $msg, array $components, string $paramsText): string
    {
        $base = '';
        foreach ($components as $name) {
            $base .= '"' . $name . '": ' . $msg->componentValue($name) . "\n";
        }
        return $base . '"@signature-params": ' . $paramsText;
    }

    /**
     * Signs `req` with HMAC-SHA256 under `key` for one signature-input member
     * (`label=(...);params`), as any RFC 9421 signer would.
     *
     * @return array{0: string, 1: string} the signature base and the `Signature` value (`label=:base64:`)
     * @throws CoreError invalid_url / too_large / invalid_input / signature_malformed
     */
    public static function hmacSignGeneric(
        #[\SensitiveParameter] Request $req,
        string $signatureInput,
        #[\SensitiveParameter] string $key,
    ): array
    {
        $url = Url::parse($req->url, 'url');
        $dict = Sfv::parseDictionary($signatureInput);
        if (\count($dict) !== 1 || !$dict[0][1] instanceof SfvInnerList) {
            throw CoreError::signatureMalformed('expected exactly one inner-list member');
        }
        [$label, $params] = $dict[0];
        $authority = $url->authority();
        $method = Http::normalizeMethod($req->method);
        $msg = MessageView::of($method, $url, $authority, $req->headers);
        $base = self::signatureBase($msg, $params);
        $sig = base64_encode(self::hmacSha256($key, $base));
        return [$base, $label . '=:' . $sig . ':'];
    }

    /** HMAC-SHA256 of `data` under `key` (raw 32 bytes). */
    public static function hmacSha256(#[\SensitiveParameter] string $key, #[\SensitiveParameter] string $data): string
    {
        return hash_hmac('sha256', $data, $key, true);
    }

    /** The `Content-Digest` value (RFC 9530) for `body`: `sha-256=:…:`. */
    public static function contentDigest(#[\SensitiveParameter] string $body): string
    {
        return 'sha-256=:' . base64_encode(hash('sha256', $body, true)) . ':';
    }
}
