<?php

declare(strict_types=1);

namespace Tessera\Pure\Internal;

/** Route paths below the broker base URL (`config::Routes`). */
final class Routes
{
    public function __construct(
        public string $installations = '/installations',
        public string $connect = '/connect',
        public string $disconnect = '/disconnect',
        /** Connect completion: the signed exchange of a connect code for a broker token (docs/PROTOCOL.md §5.4.1). */
        public string $connectComplete = '/connect/complete',
    ) {
    }
}
