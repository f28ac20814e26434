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
 * Where the service can reach the site, events also arrive at once: after a
 * connect the plugin registers its REST route `storefront-sync/v1/events`
 * with the service (pushRegistrationRequest()), which then POSTs each new
 * event there signed with this installation's secret; verifyPush() checks
 * the signature before anything of the body is used. A push never moves the
 * cursor: the next pull brings the same events, kept once.
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

	/** The push route (`/wp-json/storefront-sync/v1/events`). */
	const REST_ROUTE = '/events';

	/**
	 * Hooks: the push route.
	 *
	 * @return void
	 */
	public static function hooks() {
		add_action( 'rest_api_init', array( __CLASS__, 'register_route' ) );
	}

	/**
	 * Registers the push route: public, since the signature (checked by
	 * Tessera with this installation's secret) is what authenticates it.
	 *
	 * @return void
	 */
	public static function register_route() {
		register_rest_route(
			Storefront_Sync_Ownership::REST_NAMESPACE,
			self::REST_ROUTE,
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( __CLASS__, 'receive_push' ),
				'permission_callback' => '__return_true',
			)
		);
	}

	/**
	 * Where the service pushes events: this site's REST route.
	 *
	 * @return string
	 */
	public static function push_url() {
		return rest_url( Storefront_Sync_Ownership::REST_NAMESPACE . self::REST_ROUTE );
	}

	/**
	 * A push from the service: Tessera verifies it against the raw body and
	 * the signature header (anything else is refused with its status), then
	 * the events are kept.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function receive_push( WP_REST_Request $request ) {
		$refused = static fn ( $code, $status ) => new WP_Error( 'storefront_sync_push_' . $code, $code, array( 'status' => $status ) );
		if ( ! Storefront_Sync_Tessera::available() || Storefront_Sync_Settings::is_proxy() ) {
			return $refused( 'not_accepted', 404 );
		}
		try {
			$companion = Storefront_Sync_State::load();
			if ( null === $companion ) {
				return $refused( 'not_registered', 404 );
			}
			$signature = (string) $request->get_header( 'tessera_push_signature' );
			$headers   = '' === $signature ? array() : array( 'tessera-push-signature' => $signature );
			$events    = $companion->verifyPush( $headers, $request->get_body(), time() );
		} catch ( Native\Exception\VerificationException | Bundled\Exception\VerificationException $e ) {
			return $refused( $e->getWireCode(), $e->getHttpStatus() ); // 401 and the signature's code.
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			return $refused( $e->getErrorCode(), 400 );
		}
		self::keep( $events );
		return new WP_REST_Response( array( 'kept' => count( $events ) ), 200 );
	}

	/**
	 * After a connect: asks the service to push events to this site (best
	 * effort: where the service cannot reach the site, or the request fails,
	 * the settings page still pulls them).
	 *
	 * @param Native\Companion|Bundled\Companion $companion The installation (connected).
	 * @return bool Whether the service took the push URL.
	 */
	public static function register_push( Native\Companion|Bundled\Companion $companion ) {
		if ( Storefront_Sync_Settings::is_proxy() ) {
			return false;
		}
		try {
			Storefront_Sync_Client::call( $companion, $companion->pushRegistrationRequest( self::push_url() ) );
			return true;
		} catch ( Native\Exception\TesseraException | Bundled\Exception\TesseraException $e ) {
			return false;
		}
	}

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
		// A push and a page load may keep events at the same moment: read,
		// merge and write under the site's lock (best effort: without it the
		// events are still kept, a concurrent write may drop one from the list).
		$locked = null !== Storefront_Sync_State::lock( 'events' );
		try {
			wp_cache_delete( self::OPTION, 'options' );
			$kept = array();
			foreach ( array_merge( self::recent(), array_reverse( $events ) ) as $event ) {
				$kept[ $event['id'] ] = array(
					'id'         => (string) $event['id'],
					'type'       => (string) $event['type'],
					'created_at' => (int) $event['created_at'],
					// Tessera's events carry `data`; those kept before, their `object`.
					'object'     => isset( $event['data'] ) ? self::object_id( $event ) : (string) ( $event['object'] ?? '' ),
				);
			}
			usort( $kept, static fn ( $a, $b ) => $b['created_at'] <=> $a['created_at'] );
			update_option( self::OPTION, array_slice( $kept, 0, self::KEEP ), false );
		} finally {
			if ( $locked ) {
				Storefront_Sync_State::unlock( 'events' );
			}
		}
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
