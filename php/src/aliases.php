<?php

/**
 * When the `tessera` extension is not loaded, the pure-PHP classes provide
 * its API under the extension's names: `Tessera\Companion`,
 * `Tessera\Verifier`, every `Tessera\Exception\…` class and the transports
 * `Tessera\Http\Psr18Transport` and `Tessera\Http\WordPressTransport` are aliases of
 * their `Tessera\Pure\…` twins. When the extension is loaded it wins and
 * nothing is aliased (the pure classes stay usable under their own names).
 */

declare(strict_types=1);

if (!extension_loaded('tessera') && !class_exists('Tessera\\Companion', false)) {
    foreach ([
        'Companion',
        'Verifier',
        'Exception\\TesseraException',
        'Exception\\InvalidInputException',
        'Exception\\InvalidStateException',
        'Exception\\StateUndecryptableException',
        'Exception\\ReconnectRequiredException',
        'Exception\\RegistrationInvalidException',
        'Exception\\RateLimitedException',
        'Exception\\ClientErrorException',
        'Exception\\ServerUnavailableException',
        'Exception\\CallbackException',
        'Exception\\SiteMismatchException',
        'Exception\\VerificationException',
        'Exception\\TransportException',
        'Http\\Psr18Transport',
        'Http\\WordPressTransport',
    ] as $tesseraClass) {
        class_alias('Tessera\\Pure\\' . $tesseraClass, 'Tessera\\' . $tesseraClass);
    }
    unset($tesseraClass);
}
