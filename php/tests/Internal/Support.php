<?php

declare(strict_types=1);

namespace Tessera\Pure\Tests\Internal;

use PHPUnit\Framework\TestCase;
use Tessera\Pure\Internal\CoreError;

/** Shared helpers of the internal suite. */
abstract class Support extends TestCase
{
    /** The repository root. */
    public static function root(): string
    {
        return \dirname(__DIR__, 3);
    }

    /**
     * A shared vector file's cases.
     *
     * @return list<array<string, mixed>>
     */
    public static function vectors(string $name): array
    {
        $json = file_get_contents(self::root() . '/tests/vectors/' . $name . '.json');
        self::assertIsString($json);
        return json_decode($json, true, 512, JSON_THROW_ON_ERROR)['cases'];
    }

    /**
     * A vector's header object as a list of pairs, in order.
     *
     * @param array<string|int, string|list<string>> $headers
     * @return list<array{0: string, 1: string}>
     */
    public static function pairs(array $headers): array
    {
        $out = [];
        foreach ($headers as $k => $v) {
            foreach ((array) $v as $one) {
                $out[] = [(string) $k, $one];
            }
        }
        return $out;
    }

    /**
     * Runs `fn` and asserts it throws a CoreError with `code` (and `message` when given).
     */
    public static function assertCoreError(string $code, callable $fn, ?string $message = null, string $context = ''): CoreError
    {
        try {
            $fn();
        } catch (CoreError $e) {
            self::assertSame($code, $e->code(), $context . ' (' . $e->getMessage() . ')');
            if ($message !== null) {
                self::assertSame($message, $e->getMessage(), $context);
            }
            return $e;
        }
        self::fail("expected CoreError {$code}: {$context}");
    }
}
