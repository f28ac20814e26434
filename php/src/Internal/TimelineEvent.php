<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/**
 * One Stora Timeline Event before it is sent (port of core/src/timeline.rs):
 * `POST /api/timeline/events` through the broker, keyed from the action it
 * records ({@see self::timelineKey()}).
 */
final class TimelineEvent
{
    public const EVENTS_PATH = '/api/timeline/events';
    public const MAX_ID_CHARS = 100;
    public const MAX_DESCRIPTION_CHARS = 1000;
    public const MAX_EXTERNAL_URL = 2048;
    public const MAX_VARIABLES = 50;
    public const MAX_VARIABLE_KEY_CHARS = 40;
    public const MAX_VARIABLE_VALUE_CHARS = 500;
    public const MAX_EXTERNAL_ID_CHARS = 124;

    /**
     * @param list<array{string, string}> $variables template variables, in order
     */
    public function __construct(
        public readonly string $sourceId,
        public readonly string $templateId,
        public readonly ?string $contactId = null,
        public readonly ?string $siteId = null,
        public readonly ?string $description = null,
        public readonly ?string $externalUrl = null,
        public readonly array $variables = [],
    ) {
    }

    /** `"tle-" + action key`: the same action key always gives the same event key. */
    public static function timelineKey(string $actionKey): string
    {
        return 'tle-' . $actionKey;
    }

    /** @throws CoreError */
    private static function checkId(string $field, string $id): void
    {
        $n = Metadata::chars($id);
        if ($n === 0 || $n > self::MAX_ID_CHARS) {
            throw CoreError::invalidInput($field, 'must be 1 to 100 characters');
        }
        if (!Text::isAsciiGraphic($id)) {
            throw CoreError::invalidInput($field, 'must be visible ASCII characters');
        }
    }

    /** The normalised `external.url`. @throws CoreError */
    private static function externalUrl(string $text): string
    {
        if (\strlen($text) > self::MAX_EXTERNAL_URL) {
            throw CoreError::tooLarge('external_url', self::MAX_EXTERNAL_URL);
        }
        $url = Url::parse($text, 'external_url');
        if ($url->scheme() !== 'https') {
            throw CoreError::invalidUrl('external_url', 'must be an https URL');
        }
        $normalised = $url->asString();
        if (\strlen($normalised) > self::MAX_EXTERNAL_URL) {
            throw CoreError::tooLarge('external_url', self::MAX_EXTERNAL_URL);
        }
        return $normalised;
    }

    /** @throws CoreError */
    private function checkVariables(): void
    {
        if (\count($this->variables) > self::MAX_VARIABLES) {
            throw CoreError::invalidInput('variables', 'more than 50 variables');
        }
        $seen = [];
        foreach ($this->variables as [$key, $value]) {
            $n = Metadata::chars($key);
            if ($n === 0 || $n > self::MAX_VARIABLE_KEY_CHARS) {
                throw CoreError::invalidInput('variables', 'name must be 1 to 40 characters');
            }
            if (preg_match('/^[a-z0-9_.]+$/D', $key) !== 1) {
                throw CoreError::invalidInput('variables', "name may only contain a-z, 0-9, '_' and '.'");
            }
            if (Metadata::chars($value) > self::MAX_VARIABLE_VALUE_CHARS) {
                throw CoreError::invalidInput('variables', 'value is longer than 500 characters');
            }
            if (isset($seen[$key])) {
                throw CoreError::invalidInput('variables', 'a name appears twice');
            }
            $seen[$key] = true;
        }
    }

    /** Checks an `external.id`: 1-124 of `[A-Za-z0-9._~-]`. @throws CoreError */
    public static function checkExternalId(string $externalId): void
    {
        $len = \strlen($externalId);
        if ($len === 0 || $len > self::MAX_EXTERNAL_ID_CHARS || preg_match('/^[A-Za-z0-9._~-]+$/D', $externalId) !== 1) {
            throw CoreError::invalidInput('external_id', 'must be 1 to 124 characters of [A-Za-z0-9._~-]');
        }
    }

    /** Checks every field, in declaration order. @throws CoreError */
    public function validate(): void
    {
        self::checkId('source_id', $this->sourceId);
        self::checkId('template_id', $this->templateId);
        if ($this->contactId !== null) {
            self::checkId('contact_id', $this->contactId);
        }
        if ($this->siteId !== null) {
            self::checkId('site_id', $this->siteId);
        }
        if ($this->description !== null && Metadata::chars($this->description) > self::MAX_DESCRIPTION_CHARS) {
            throw CoreError::invalidInput('description', 'is longer than 1000 characters');
        }
        if ($this->externalUrl === null) {
            throw CoreError::invalidInput('external_url', "is required (Stora's external object has an id and an https url)");
        }
        self::externalUrl($this->externalUrl);
        $this->checkVariables();
    }

    private static function idObject(string $id): string
    {
        $o = new ObjectWriter();
        $o->str('id', $id);
        return $o->end();
    }

    /** The JSON body, members in the documented order. @throws CoreError */
    public function body(string $externalId): string
    {
        $this->validate();
        self::checkExternalId($externalId);
        $url = $this->externalUrl === null ? null : self::externalUrl($this->externalUrl);
        $o = new ObjectWriter();
        $o->key('source');
        $o->raw(self::idObject($this->sourceId));
        $o->key('template');
        $o->raw(self::idObject($this->templateId));
        if ($this->contactId !== null) {
            $o->key('contact');
            $o->raw(self::idObject($this->contactId));
        }
        if ($this->siteId !== null) {
            $o->key('site');
            $o->raw(self::idObject($this->siteId));
        }
        if ($this->description !== null) {
            $o->str('description', $this->description);
        }
        $external = new ObjectWriter();
        $external->str('id', $externalId);
        if ($url !== null) {
            $external->str('url', $url);
        }
        $o->key('external');
        $o->raw($external->end());
        $vars = new ObjectWriter();
        foreach ($this->variables as [$k, $v]) {
            $vars->str($k, $v);
        }
        $o->key('variables');
        $o->raw($vars->end());
        return $o->end();
    }

    /** `POST /api/timeline/events` recording the action `$externalId`. @throws CoreError */
    public function toRequest(string $externalId): ApiRequest
    {
        $body = $this->body($externalId);
        return new ApiRequest('POST', self::EVENTS_PATH, [['content-type', 'application/json'], ['idempotency-key', self::timelineKey($externalId)]], $body);
    }
}
