<?php

declare(strict_types=1);

namespace StorefrontSync\Vendor\Tessera\Internal;

/**
 * Install registration (core/src/registration.rs): what the host says about
 * itself when registering (the Rust `Registration` struct, as readonly
 * properties) and the module's functions as statics.
 */
final class Registration
{
    /** Browser-extension origins accepted as a site identity. */
    public const EXTENSION_SCHEMES = ['chrome-extension', 'moz-extension'];

    /** Largest 202 body read for a challenge. */
    private const MAX_CHALLENGE_BODY = 16 * 1024;
    private const OWNERSHIP_CONTEXT = 'tessera-ownership-v1';
    private const EXTENSION_ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-';
    private const PLATFORM_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789._-';

    /**
     * @param string $siteUrl the site's public URL (`home_url()` in WordPress)
     * @param string $adminEmail the administrator's email
     * @param string $platform host platform, `[a-z0-9._-]{1,32}`
     * @param string $pluginVersion plugin version, 1-32 visible ASCII characters
     */
    public function __construct(
        public readonly string $siteUrl,
        public readonly string $adminEmail,
        public readonly string $platform,
        public readonly string $pluginVersion,
    ) {
    }

    /** The JSON body of `POST /installations` (it carries the secret). */
    public static function registrationBody(
        string $installId,
        string $siteUrl,
        string $adminEmail,
        Secret $secret,
        string $platform,
        string $pluginVersion,
    ): string {
        $o = new ObjectWriter();
        $o->str('install_id', $installId);
        $o->str('site_url', $siteUrl);
        $o->str('admin_email', $adminEmail);
        $o->str('secret', $secret->toBase64url());
        $o->str('platform', $platform);
        $o->str('plugin_version', $pluginVersion);
        return $o->end();
    }

    /** Path of the ownership proof below the site URL. */
    public static function ownershipPath(string $installId): string
    {
        return '/.well-known/tessera/' . $installId;
    }

    /** `base64url(HMAC(secret, "tessera-ownership-v1\n" + install_id + "\n" + challenge))`. */
    public static function ownershipProof(Secret $secret, string $installId, string $challenge): string
    {
        $msg = self::OWNERSHIP_CONTEXT . "\n" . $installId . "\n" . $challenge;
        return Encoding::b64urlEncode(Signature::hmacSha256($secret->expose(), $msg));
    }

    /**
     * Broker side: checks a proof fetched from the site (trimmed), in constant time.
     *
     * @throws CoreError ownership_proof_invalid
     */
    public static function verifyOwnershipProof(Secret $secret, string $installId, string $challenge, #[\SensitiveParameter] string $proof): void
    {
        if (!hash_equals(self::ownershipProof($secret, $installId, $challenge), Text::trim($proof))) {
            throw CoreError::ownershipProofInvalid();
        }
    }

    /**
     * Reads `{"challenge": …}` from a 202 answer and checks it.
     *
     * @throws CoreError registration_rejected (202, `malformed_challenge`)
     */
    public static function parseChallenge(string $body): string
    {
        if (\strlen($body) > self::MAX_CHALLENGE_BODY) {
            throw self::malformedChallenge();
        }
        try {
            $challenge = Json::parse($body)->get('challenge')?->asStr();
        } catch (JsonParseError | JsonDuplicateKey) {
            $challenge = null;
        }
        if ($challenge === null) {
            throw self::malformedChallenge();
        }
        self::checkChallenge($challenge);
        return $challenge;
    }

    /**
     * Checks that a challenge is a profile token of 16-128 characters.
     *
     * @throws CoreError registration_rejected (202, `malformed_challenge`)
     */
    public static function checkChallenge(string $challenge): void
    {
        if (\strlen($challenge) < 16 || !Sign::isProfileToken($challenge)) {
            throw self::malformedChallenge();
        }
    }

    /**
     * "Looks like an email": one `@`, a non-empty local part, a dotted domain
     * of ASCII letters, digits, hyphens or non-ASCII characters; no spaces or
     * controls; at most 254 bytes.
     *
     * @throws CoreError invalid_input (field `admin_email`)
     */
    public static function checkEmail(string $email): void
    {
        if (\strlen($email) > 254 || Text::hasSpaceOrControl($email)) {
            throw CoreError::invalidInput('admin_email', 'must be a single address without spaces');
        }
        $at = strpos($email, '@');
        if ($at === false) {
            throw CoreError::invalidInput('admin_email', 'must contain @');
        }
        $local = substr($email, 0, $at);
        $domain = substr($email, $at + 1);
        if ($local === '' || \strlen($local) > 64 || str_contains($domain, '@') || strpbrk($local, '<>",;') !== false) {
            throw CoreError::invalidInput('admin_email', 'has an invalid local part');
        }
        $labels = explode('.', $domain);
        $ok = \count($labels) >= 2;
        foreach ($labels as $l) {
            if (!$ok) {
                break;
            }
            $len = \strlen($l);
            $ok = $len > 0 && $len <= 63 && $l[0] !== '-' && $l[-1] !== '-'
                && preg_match('/[\x00-\x2C\x2E-\x2F\x3A-\x40\x5B-\x60\x7B-\x7F]/', $l) === 0;
        }
        if (!$ok) {
            throw CoreError::invalidInput('admin_email', 'has an invalid domain');
        }
    }

    /** A browser-extension id as it appears in its origin: 1-64 of `[A-Za-z0-9-]`. */
    public static function isExtensionId(string $id): bool
    {
        $len = \strlen($id);
        return $len > 0 && $len <= 64 && strspn($id, self::EXTENSION_ID_CHARS) === $len;
    }

    /**
     * The normalised identity of a site URL: an `http(s)` URL without query or
     * trailing slash, or a browser-extension origin (`chrome-extension://<id>`,
     * `moz-extension://<uuid>`).
     *
     * @throws CoreError invalid_url / too_large
     */
    public static function siteIdentity(#[\SensitiveParameter] string $url, string $field): string
    {
        foreach (self::EXTENSION_SCHEMES as $scheme) {
            $prefix = $scheme . '://';
            if (!str_starts_with($url, $prefix)) {
                continue;
            }
            $rest = substr($url, \strlen($prefix));
            if (str_ends_with($rest, '/')) {
                $rest = substr($rest, 0, -1);
            }
            $id = Text::asciiLower($rest);
            if (!self::isExtensionId($id)) {
                throw CoreError::invalidUrl($field, 'an extension origin must be scheme://<id> with no path');
            }
            return $prefix . $id;
        }
        return Url::parse($url, $field)->siteIdentity();
    }

    /**
     * Checks everything a registration's input must satisfy; returns the site identity.
     *
     * @throws CoreError invalid_input / invalid_url / too_large
     */
    public static function checkRegistration(self $reg): string
    {
        self::checkMeta($reg);
        self::checkEmail($reg->adminEmail);
        return self::siteIdentity($reg->siteUrl, 'site_url');
    }

    /**
     * Checks platform and plugin version.
     *
     * @throws CoreError invalid_input
     */
    public static function checkMeta(self $reg): void
    {
        $len = \strlen($reg->platform);
        if ($len === 0 || $len > 32 || strspn($reg->platform, self::PLATFORM_CHARS) !== $len) {
            throw CoreError::invalidInput('platform', 'must be 1-32 of [a-z0-9._-]');
        }
        $len = \strlen($reg->pluginVersion);
        if ($len === 0 || $len > 32 || !Text::isAsciiGraphic($reg->pluginVersion)) {
            throw CoreError::invalidInput('plugin_version', 'must be 1-32 visible ASCII characters');
        }
    }

    private static function malformedChallenge(): CoreError
    {
        return CoreError::registrationRejected(202, 'malformed_challenge');
    }
}
