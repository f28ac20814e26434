<?php
/**
 * Where the plugin keeps things: the installation's sealed state and a small
 * health record for notices.
 *
 * @package StorefrontSync
 */

defined( 'ABSPATH' ) || exit;

use Tessera as Native;
use StorefrontSync\Vendor\Tessera as Bundled;

/**
 * Persistence of the tessera state.
 *
 * Tessera's state (install id, per-installation secret, broker token,
 * pending connect, learned clock offset) is sealed by Tessera
 * (`sealState()`, an AEAD under a key Tessera derives with HKDF from
 * the key material below) and stored in ONE option that is not autoloaded.
 * A sealed state that does not open (`state_undecryptable`, e.g. after the
 * salts in wp-config.php changed) is never treated as "nothing stored": the
 * plugin says so and lets the operator decide (see Storefront_Sync_Admin).
 */
final class Storefront_Sync_State {

	/** The sealed state (autoload = no). */
	const OPTION = 'storefront_sync_state';

	/** Health record for notices: last registration problem, rate limit (autoload = no). */
	const HEALTH_OPTION = 'storefront_sync_health';

	/** Short-lived lock so two admin page loads do not register at once. */
	const LOCK_TRANSIENT = 'storefront_sync_registering';

	/**
	 * Key material for sealing. A constant in wp-config.php wins:
	 *
	 *     define( 'STOREFRONT_SYNC_STATE_KEY', 'a long random string' );
	 *
	 * otherwise WordPress's LOGGED_IN_KEY . LOGGED_IN_SALT (wp_salt()).
	 * Tessera derives the actual AEAD key from this with HKDF (the extension
	 * and the bundled copy alike: either opens what the other sealed); the
	 * prefix keeps this use of the salts separate from WordPress's own.
	 *
	 * @return string
	 */
	public static function key_material() {
		if ( defined( 'STOREFRONT_SYNC_STATE_KEY' ) && is_string( STOREFRONT_SYNC_STATE_KEY ) && '' !== STOREFRONT_SYNC_STATE_KEY ) {
			return 'storefront-sync/state/v1|constant|' . STOREFRONT_SYNC_STATE_KEY;
		}
		return 'storefront-sync/state/v1|salt|' . wp_salt( 'logged_in' );
	}

	/**
	 * Whether a sealed state is stored.
	 *
	 * @return bool
	 */
	public static function exists() {
		$sealed = get_option( self::OPTION, '' );
		return is_string( $sealed ) && '' !== $sealed;
	}

	/**
	 * Opens the stored state.
	 *
	 * @return Native\Companion|Bundled\Companion|null Null when nothing is stored.
	 * @throws Native\Exception\StateUndecryptableException|Bundled\Exception\StateUndecryptableException When the stored state does not open with today's key.
	 */
	public static function load() {
		$sealed = get_option( self::OPTION, '' );
		if ( ! is_string( $sealed ) || '' === $sealed ) {
			return null;
		}
		$companion = Storefront_Sync_Tessera::companion();
		return $companion::openState( $sealed, self::key_material() );
	}

	/**
	 * Seals and stores the state.
	 *
	 * @param Native\Companion|Bundled\Companion $companion The installation.
	 * @return void
	 */
	public static function save( Native\Companion|Bundled\Companion $companion ) {
		update_option( self::OPTION, $companion->sealState( self::key_material() ), false );
	}

	/**
	 * Stores a state JSON Tessera handed to a `persist` callable.
	 *
	 * @param string $state_json State JSON from Tessera.
	 * @return void
	 */
	public static function save_json( $state_json ) {
		$companion = Storefront_Sync_Tessera::companion();
		self::save( $companion::fromJson( $state_json ) );
	}

	/**
	 * Forgets the state (uninstall, or the operator chose to register again).
	 *
	 * @return void
	 */
	public static function delete() {
		delete_option( self::OPTION );
	}

	/**
	 * The health record.
	 *
	 * @return array{registration_error?: array{code: string, message: string, time: int}, rate_limited_until?: int}
	 */
	public static function health() {
		$health = get_option( self::HEALTH_OPTION, array() );
		return is_array( $health ) ? $health : array();
	}

	/**
	 * Updates the health record (null removes a key).
	 *
	 * @param array<string, mixed> $changes Keys to set or (null) remove.
	 * @return void
	 */
	public static function update_health( array $changes ) {
		$health = self::health();
		foreach ( $changes as $key => $value ) {
			if ( null === $value ) {
				unset( $health[ $key ] );
			} else {
				$health[ $key ] = $value;
			}
		}
		if ( array() === $health ) {
			delete_option( self::HEALTH_OPTION );
		} else {
			update_option( self::HEALTH_OPTION, $health, false );
		}
	}

	/**
	 * Everything the plugin stores, for uninstall.php.
	 *
	 * @return void
	 */
	public static function delete_all() {
		delete_option( self::OPTION );
		delete_option( self::HEALTH_OPTION );
		delete_transient( self::LOCK_TRANSIENT );
	}
}
