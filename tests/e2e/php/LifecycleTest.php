<?php

declare(strict_types=1);

namespace Tessera\E2E;

use PHPUnit\Framework\TestCase;
use Tessera\Exception\ReconnectRequiredException;
use Tessera\Exception\InvalidStateException;

/**
 * The whole lifecycle from PHP (the tessera extension, or the pure-PHP
 * package with TESSERA_IMPL=pure, as a WordPress plugin uses it) against the
 * reference broker and the fake Stora over real HTTP.
 */
final class LifecycleTest extends TestCase
{
    public function testWholeLifecycle(): void
    {
        $env = Env::get();
        $host = new Host();
        $c = $env->companion();

        // Register on the step machine: the secret is persisted before the
        // first send; 202 challenge, the site serves the proof, 201.
        $this->assertSame(['outcome' => 'registered'], $env->register($c, $persisted));
        $this->assertSame('registered', $c->status());
        $this->assertSame('registration_pending', json_decode($persisted[0], true)['status']);
        $this->assertSame($c->exportState(), end($persisted));
        $id = $c->installId();
        $info = json_decode($env->admin('GET', "/admin/installations/$id")['body'], true);
        $this->assertSame('active', $info['status']);

        // Connect through the browser; approve at Stora.
        $env->connect($c, 'opr_php_life');
        $this->assertSame('connected', $c->status());

        // A signed API call returns Stora data.
        $orders = $host->getJson($c, '/api/orders');
        $this->assertCount(3, $orders['data']);
        $this->assertSame('opr_php_life', $orders['data'][0]['operator']);

        // The access token expires: the broker refreshes and stores the rotation.
        $env->storaControl('expire_tokens', ['operator' => 'opr_php_life']);
        $before = $env->storaCounters()['refreshes'];
        $this->assertCount(3, $host->getJson($c, '/api/orders')['data']);
        $this->assertSame($before + 1, $env->storaCounters()['refreshes']);
        $env->storaControl('expire_tokens', ['operator' => 'opr_php_life']);
        $host->getJson($c, '/api/orders');
        $this->assertSame($before + 2, $env->storaCounters()['refreshes'], 'the stored refresh token was the rotated one');
        $info = json_decode($env->admin('GET', "/admin/installations/$id")['body'], true);
        $this->assertSame(2, $info['grant']['generation']);

        // The operator revokes the grant at Stora: reconnect required.
        $env->storaControl('revoke_grant', ['operator' => 'opr_php_life']);
        try {
            $host->getJson($c, '/api/orders');
            $this->fail('expected ReconnectRequiredException');
        } catch (ReconnectRequiredException $e) {
            $this->assertSame('reconnect_required', $e->getErrorCode());
            $this->assertSame('stora_reconnect_required', $e->getReason());
        }
        $this->assertSame('reconnect_required', $c->status());
        $this->assertNotNull($host->persisted, 'the dropped token was persisted');

        // Reconnect, then reconnect while connected with a wider scope.
        $env->connect($c, 'opr_php_life');
        $host->getJson($c, '/api/orders');
        $revoked = $env->storaCounters()['grants_revoked'];
        $env->connect($c, 'opr_php_life', 'public.order:read public.contact:read');
        $this->assertCount(2, $host->getJson($c, '/api/contacts')['data']);
        $this->assertSame($revoked + 1, $env->storaCounters()['grants_revoked'], 'the replaced grant was revoked');

        // Disconnect: Stora sees the revoke.
        $revokes = $env->storaCounters()['revokes'];
        $result = $c->disconnect($host->transport(), $host->sleep(), $host->persist());
        $this->assertSame(['remote' => ['result' => 'ok', 'error' => null]], $result);
        $this->assertSame($revokes + 1, $env->storaCounters()['revokes']);
        $this->assertSame('registered', $c->status());
        try {
            $host->getJson($c, '/api/orders');
            $this->fail('expected not_connected');
        } catch (InvalidStateException $e) {
            $this->assertSame('not_connected', $e->getErrorCode());
        }

        // Uninstall: disconnect + deregister + local wipe.
        $env->connect($c, 'opr_php_life');
        $revokes = $env->storaCounters()['revokes'];
        $report = $c->uninstall($host->transport(), $host->sleep(), $host->persist());
        $this->assertSame(['disconnect' => ['result' => 'ok', 'error' => null], 'deregister' => ['result' => 'ok', 'error' => null]], $report);
        $this->assertSame($revokes + 1, $env->storaCounters()['revokes']);
        $this->assertSame('not_registered', $c->status());
        $this->assertNull($c->installId());
        $this->assertSame(404, $env->admin('GET', "/admin/installations/$id")['status'], 'gone at the broker');
    }

    /**
     * Stora's events (docs/PROTOCOL.md §14): connect registered a webhook
     * endpoint at Stora for this connection; a real mutation through the
     * broker makes the fake Stora deliver `contact.created` to the broker,
     * which queues it; the plugin pulls it (`pullEvents()`), acknowledges the
     * page with a persist (the stored state holds the cursor), and the next
     * pull starts after it and is empty.
     */
    public function testStorasEventsArePulledAndAcknowledged(): void
    {
        $env = Env::get();
        $host = new Host();
        $c = $env->companion();
        $env->register($c);
        $env->connect($c, 'opr_php_events', 'public.contact:write');
        $created = $c->call(
            ['method' => 'POST', 'path' => '/api/contacts', 'headers' => ['content-type' => 'application/json'], 'body' => '{"name":"Ada"}'],
            $host->transport(),
            $host->sleep(),
            $host->persist(),
        );
        $this->assertSame(201, $created['status']);
        $contact = json_decode($created['body'], true);

        // Stora delivers within about a second: pull until the event is there (at most 5 s).
        $deadline = microtime(true) + 5;
        do {
            $page = $c->pullEvents($host->transport(), $host->sleep(), $host->persist());
            if ($page['events'] !== []) {
                break;
            }
            usleep(100_000);
        } while (microtime(true) < $deadline);
        $this->assertCount(1, $page['events'], 'contact.created reached the broker and was pulled');
        $event = $page['events'][0];
        $this->assertSame('contact.created', $event['type']);
        $this->assertStringStartsWith('evt_', $event['id']);
        $this->assertSame('2025-09', $event['api_version']);
        $this->assertSame($contact['id'], $event['data']['object']['id']);
        $this->assertSame('Ada', $event['data']['object']['name']);
        $this->assertSame($event['data'], json_decode($event['data_json'], true));
        $this->assertFalse($page['has_more']);
        $this->assertNull($c->eventsCursor(), 'pulling moves no cursor');

        // Handled: acknowledge the page; the state persisted holds the cursor.
        $host->persisted = null;
        $this->assertTrue($c->acknowledgeEvents($page['cursor'], $host->persist()));
        $this->assertSame($page['cursor'], $c->eventsCursor());
        $this->assertSame($c->exportState(), $host->persisted);
        $this->assertSame($page['cursor'], json_decode((string) $host->persisted, true)['events_cursor']);

        // The next pull starts after the cursor: nothing new. So does one
        // from a companion restored from what was persisted.
        $this->assertSame(['events' => [], 'cursor' => $page['cursor'], 'has_more' => false], $c->pullEvents($host->transport(), $host->sleep()));
        $restored = \Tessera\Companion::importState((string) $host->persisted);
        $this->assertSame([], $restored->pullEvents($host->transport(), $host->sleep(), null, 10)['events']);
        $this->assertFalse($restored->acknowledgeEvents($page['cursor']));
    }

    /**
     * Pushed events (docs/PROTOCOL.md §14.4), the plugin's half against the
     * real broker: `pushRegistrationRequest()` run by `call()` registers a
     * URL on the site's own origin (the broker answers with it), a URL
     * elsewhere is refused before anything is sent, `null` stops the pushes
     * (204). The broker's push itself is verified by the core in
     * examples/broker/tests/e2e.rs (the stand-in site keeps it in process).
     */
    public function testThePushUrlIsRegisteredAndStopped(): void
    {
        $env = Env::get();
        $host = new Host();
        $c = $env->companion();
        $env->register($c);
        $env->connect($c, 'opr_php_push');
        $url = $env->site . '/wp-json/storefront-sync/v1/events';
        $set = $c->call($c->pushRegistrationRequest($url), $host->transport(), $host->sleep(), $host->persist());
        $this->assertSame(200, $set['status']);
        $this->assertSame($url, json_decode($set['body'], true)['push_url']);
        try {
            $c->pushRegistrationRequest('https://evil.example/hook');
            $this->fail('a push URL off the site was accepted');
        } catch (\Tessera\Exception\InvalidInputException $e) {
            $this->assertSame('invalid_url', $e->getErrorCode());
        }
        $stop = $c->call($c->pushRegistrationRequest(null), $host->transport(), $host->sleep(), $host->persist());
        $this->assertSame(204, $stop['status']);
        // Nothing of it is kept in the plugin's state.
        $this->assertStringNotContainsString('/wp-json/storefront-sync', $c->exportState());
    }

    public function testSealedStateSurvivesAcrossRequests(): void
    {
        // Each WordPress request rebuilds the companion from the sealed option.
        $env = Env::get();
        $host = new Host();
        $key = str_repeat('k', 32);
        $c = $env->companion();
        $env->register($c);
        $env->connect($c, 'opr_php_sealed');
        $option = $c->sealState($key);
        $restored = \Tessera\Companion::openState($option, $key);
        $this->assertSame('connected', $restored->status());
        $this->assertCount(3, $host->getJson($restored, '/api/orders')['data']);
    }
}
