<?php
/**
 * Stora's events on this site, without an inbound request: Stora delivers
 * its signed webhooks to the partner's broker, which keeps them for this
 * installation; the settings page pulls them when it loads (Tessera's
 * pullEvents(): a signed call, so it works behind firewalls and security
 * plugins that block requests to the site) and lists the most recent ones.
 * No WP-Cron: a site that wants them sooner can call pull() from a schedule
 * of its own.
 *
 * Delivery is at least once: the cursor moves (acknowledgeEvents()) only
 * after the page is stored here, and events are kept by id, so a page
 * pulled twice after a crash is stored once.
 *
 * @package StorefrontSync
 */

defined( 'ABSPATH' ) || exit;

use Tessera as Native;
use StorefrontSync\Vendor\Tessera as Bundled;

/**
 * Pulls and keeps the recent Stora events.
 */
final class Storefront_Sync_Events {

	/** The recent events (not autoloaded): newest first. */
	const OPTION = 'storefront_sync_events';

	/** How many events the page keeps and lists. */
	const KEEP = 20;

	/** Events asked for per pull (Tessera allows 1 to 100). */
	const PAGE_SIZE = 50;

	/** Pages pulled per page load at most (a backlog drains over a few loads). */
	const MAX_PAGES = 3;

	/**
	 * Pulls what the broker holds for this installation (broker mode only:
	 * with the authorization proxy there is no broker to receive Stora's
	 * webhooks), stores it, then acknowledges each page under the site's
	 * lock so a concurrent operation's state is not overwritten.
	 *
	 * @param Native\Companion|Bundled\Companion $companion The installation (connected).
	 * @return int How many events arrived.
	 * @throws Native\Exception\TesseraException|Bundled\Exception\TesseraException What Tessera reports.
	 */
	public static function pull( Native\Companion|Bundled\Companion $companion ) {
		if ( Storefront_Sync_Settings::is_proxy() ) {
			return 0;
		}
		$arrived = 0;
		for ( $i = 0; $i < self::MAX_PAGES; $i++ ) {
			$page = $companion->pullEvents( Storefront_Sync_Client::transport(), null, Storefront_Sync_Client::persister(), self::PAGE_SIZE );
			self::keep( $page['events'] );
			$arrived += count( $page['events'] );
			$cursor   = $page['cursor'];
			$companion->acknowledgeEvents( $cursor );
			Storefront_Sync_State::update(
				static fn ( $stored ) => $stored->acknowledgeEvents( $cursor )
			);
			if ( ! $page['has_more'] ) {
				break;
			}
		}
		return $arrived;
	}

	/**
	 * Adds events to the kept list: by id (an event pulled again replaces
	 * itself), newest first, at most KEEP.
	 *
	 * @param array<int, array{id: string, type: string, api_version: string, created_at: int, data: array}> $events Events as Tessera returns them.
	 * @return void
	 */
	private static function keep( array $events ) {
		if ( array() === $events ) {
			return;
		}
		$kept = array();
		foreach ( array_merge( self::recent(), array_reverse( $events ) ) as $event ) {
			$kept[ $event['id'] ] = array(
				'id'         => (string) $event['id'],
				'type'       => (string) $event['type'],
				'created_at' => (int) $event['created_at'],
				'object'     => self::object_id( $event ),
			);
		}
		usort( $kept, static fn ( $a, $b ) => $b['created_at'] <=> $a['created_at'] );
		update_option( self::OPTION, array_slice( $kept, 0, self::KEEP ), false );
	}

	/**
	 * The id of the Stora object an event is about (`data.object.id`), if any.
	 *
	 * @param array $event An event as Tessera returns it.
	 * @return string
	 */
	private static function object_id( array $event ) {
		$object = $event['data']['object'] ?? null;
		return is_array( $object ) && isset( $object['id'] ) && is_scalar( $object['id'] ) ? (string) $object['id'] : '';
	}

	/**
	 * The kept events, newest first.
	 *
	 * @return array<int, array{id: string, type: string, created_at: int, object: string}>
	 */
	public static function recent() {
		$events = get_option( self::OPTION, array() );
		return is_array( $events ) ? $events : array();
	}

	/**
	 * Forgets the kept events (a reset, a disconnect, uninstall).
	 *
	 * @return void
	 */
	public static function forget() {
		delete_option( self::OPTION );
	}
}
