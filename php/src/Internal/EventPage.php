<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/** One page of Stora's events: what `Completion::EVENTS` carries (Rust `events::EventPage`). */
final class EventPage
{
    /**
     * @param list<StoraEvent> $events this installation's events, oldest first, each at most once
     * @param string $cursor where the next pull starts once this page is handled ({@see Events::acknowledge()})
     * @param bool $hasMore more events follow this page: pull again at once
     */
    public function __construct(
        public readonly array $events,
        public readonly string $cursor,
        public readonly bool $hasMore,
    ) {
    }
}
