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
 *
 * The key material comes from wp-config.php only (config_key_material()):
 * never from WordPress's database-stored salts, which a database dump holds
 * next to the sealed state. Without it the plugin keeps working, seals under
 * a public label, and the admin notice and Site Health say the state is not
 * protected and what to add to wp-config.php.
 */
final class Storefront_Sync_State {

	/** The sealed state (autoload = no). */
	const OPTION = 'storefront_sync_state';

	/** Health record for notices: last registration problem, rate limit (autoload = no). */
	const HEALTH_OPTION = 'storefront_sync_health';

	/**
	 * The installation's id in plain text, next to the sealed state (autoload
	 * = no). Not a secret (it is the `keyid` of every signature); kept outside
	 * the seal so the plugin still knows which installation it was when the
	 * sealed state no longer opens (see Storefront_Sync_Previous).
	 */
	const INSTALL_ID_OPTION = 'storefront_sync_install_id';

	/** The id of the installation "Register again" replaced, until it is revoked (autoload = no). */
	const PREVIOUS_INSTALL_ID_OPTION = 'storefront_sync_previous_install_id';

	/** How long a PHP process waits for the installation's lock (seconds). */
	const LOCK_WAIT = 30;

	/** Short-lived lock so two admin page loads do not register at once. */
	const LOCK_TRANSIENT = 'storefront_sync_registering';

	/** The dedicated constant for the key material (wp-config.php). */
	const KEY_CONSTANT = 'STOREFRONT_SYNC_STATE_KEY';

	/** wp-config-sample.php's placeholder: WordPress treats it as "no key". */
	const DEFAULT_PHRASE = 'put your unique phrase here';

	/** The constants WordPress compares to find duplicated keys (wp_salt()). */
	const SALT_CONSTANTS = array(
		'AUTH_KEY',
		'AUTH_SALT',
		'SECURE_AUTH_KEY',
		'SECURE_AUTH_SALT',
		'LOGGED_IN_KEY',
		'LOGGED_IN_SALT',
		'NONCE_KEY',
		'NONCE_SALT',
		'SECRET_KEY',
		'SECRET_SALT',
	);

	/**
	 * What the state is sealed with when wp-config.php holds no usable key
	 * material: a public label. It protects nothing and says so (the admin
	 * notice, Site Health); it is never WordPress's database-stored salt,
	 * which sits in the same dump as the state.
	 */
	const UNPROTECTED_MATERIAL = 'storefront-sync/state/v1|unprotected';

	/**
	 * Key material for sealing, from wp-config.php only:
	 *
	 *     define( 'STOREFRONT_SYNC_STATE_KEY', 'a long random string' );
	 *
	 * wins; otherwise WordPress's LOGGED_IN_KEY (or SECRET_KEY, as wp_salt()
	 * picks) and LOGGED_IN_SALT, when each is defined, non-empty, not the
	 * sample's placeholder and not equal to another salt constant; that is
	 * exactly what wp_salt( 'logged_in' ) returns then, so a state sealed by
	 * earlier versions keeps opening. wp_salt() itself is never called: where
	 * a constant is unusable it generates a salt and STORES IT IN THE
	 * DATABASE, next to the state it would protect. Without usable constants
	 * this returns null (see key_material()).
	 *
	 * Tessera derives the actual AEAD key from this with HKDF (the extension
	 * and the bundled copy alike: either opens what the other sealed); the
	 * prefix keeps this use of the salts separate from WordPress's own.
	 *
	 * @return string|null
	 */
	public static function config_key_material() {
		if ( self::usable_constant( self::KEY_CONSTANT, false ) ) {
			return 'storefront-sync/state/v1|constant|' . constant( self::KEY_CONSTANT );
		}
		$parts = self::salt_parts();
		if ( 'config' === $parts['key']['source'] && 'config' === $parts['salt']['source'] ) {
			return 'storefront-sync/state/v1|salt|' . $parts['key']['value'] . $parts['salt']['value'];
		}
		return null;
	}

	/**
	 * What the state is sealed with: the wp-config.php key material, else
	 * the public UNPROTECTED_MATERIAL (the plugin keeps working and the admin
	 * and Site Health say the saved connection is not protected).
	 *
	 * @return string
	 */
	public static function key_material() {
		return self::config_key_material() ?? self::UNPROTECTED_MATERIAL;
	}

	/**
	 * Whether the state is protected by key material from wp-config.php, and
	 * why not: for the admin notice, the settings page and Site Health.
	 *
	 * @return array{protected: bool, source: string, problems: array<string, string>}
	 *         source: `constant` (STOREFRONT_SYNC_STATE_KEY), `salts` (LOGGED_IN_*,
	 *         SECRET_KEY) or `none`; problems: constant name => `missing`, `empty`,
	 *         `default` or `duplicated`, for the ones that are not usable.
	 */
	public static function key_status() {
		$problems = array();
		if ( defined( self::KEY_CONSTANT ) && ! self::usable_constant( self::KEY_CONSTANT, false ) ) {
			$problems[ self::KEY_CONSTANT ] = self::constant_problem( self::KEY_CONSTANT, false );
		}
		if ( self::usable_constant( self::KEY_CONSTANT, false ) ) {
			$source = 'constant';
		} elseif ( null !== self::config_key_material() ) {
			$source = 'salts';
		} else {
			$source = 'none';
			$parts  = self::salt_parts();
			if ( 'config' !== $parts['key']['source'] ) {
				$problems['LOGGED_IN_KEY'] = self::constant_problem( 'LOGGED_IN_KEY', true );
			}
			if ( 'config' !== $parts['salt']['source'] ) {
				$problems['LOGGED_IN_SALT'] = self::constant_problem( 'LOGGED_IN_SALT', true );
			}
		}
		return array(
			'protected' => 'none' !== $source,
			'source'    => $source,
			'problems'  => $problems,
		);
	}

	/**
	 * The two halves of wp_salt( 'logged_in' ) and where each comes from,
	 * following wp_salt()'s choice (wp-includes/pluggable.php) without its
	 * side effect: a half WordPress would take from the database is read
	 * from there (get_site_option, never generated nor written), and only
	 * for opening a state sealed by earlier versions.
	 *
	 * @return array{key: array{value: string, source: string}, salt: array{value: string, source: string}}
	 *         source: `config`, `db` (stored by WordPress) or `none` (nothing usable anywhere).
	 */
	private static function salt_parts() {
		$parts = array();
		foreach ( array( 'key', 'salt' ) as $type ) {
			$const = 'LOGGED_IN_' . strtoupper( $type );
			if ( self::usable_constant( $const, true ) ) {
				$parts[ $type ] = array(
					'value'  => (string) constant( $const ),
					'source' => 'config',
				);
			} elseif ( 'key' === $type && self::usable_constant( 'SECRET_KEY', true ) ) {
				$parts[ $type ] = array(
					'value'  => (string) constant( 'SECRET_KEY' ),
					'source' => 'config',
				);
			} else {
				$stored         = get_site_option( 'logged_in_' . $type );
				$parts[ $type ] = is_string( $stored ) && '' !== $stored
					? array(
						'value'  => $stored,
						'source' => 'db',
					)
					: array(
						'value'  => '',
						'source' => 'none',
					);
			}
		}
		return $parts;
	}

	/**
	 * Whether a constant holds usable key material: defined, non-empty, not
	 * the placeholder of wp-config-sample.php (or its translation) and, for
	 * WordPress's salt constants, not equal to another of them (wp_salt()
	 * rejects duplicates too).
	 *
	 * @param string $name           Constant name.
	 * @param bool   $check_duplicate Whether a value shared with another salt constant is unusable.
	 * @return bool
	 */
	private static function usable_constant( $name, $check_duplicate ) {
		return '' === self::constant_problem( $name, $check_duplicate );
	}

	/**
	 * Why a constant is not usable key material ('' when it is).
	 *
	 * @param string $name            Constant name.
	 * @param bool   $check_duplicate Whether a value shared with another salt constant is unusable.
	 * @return string `missing`, `empty`, `default`, `duplicated` or ''.
	 */
	private static function constant_problem( $name, $check_duplicate ) {
		if ( ! defined( $name ) ) {
			return 'missing';
		}
		$value = constant( $name );
		if ( ! is_string( $value ) && ! is_int( $value ) ) {
			return 'empty';
		}
		$value = (string) $value;
		if ( '' === $value || '0' === $value ) {
			return 'empty';
		}
		$defaults = array( self::DEFAULT_PHRASE );
		if ( function_exists( '__' ) ) {
			// phpcs:ignore WordPress.WP.I18n.TextDomainMismatch -- WordPress's own string, as wp_salt() translates it.
			$defaults[] = __( 'put your unique phrase here' );
		}
		if ( in_array( $value, $defaults, true ) ) {
			return 'default';
		}
		if ( $check_duplicate ) {
			foreach ( self::SALT_CONSTANTS as $other ) {
				if ( $other !== $name && defined( $other ) && (string) constant( $other ) === $value ) {
					return 'duplicated';
				}
			}
		}
		return '';
	}

	/**
	 * Key material a stored state may still be sealed with, besides today's:
	 * what earlier versions used where wp_salt( 'logged_in' ) drew on the
	 * database (read there, never generated), and the unprotected label.
	 * Only for opening; load() moves such a state under the wp-config.php key
	 * as soon as there is one.
	 *
	 * @return string[]
	 */
	private static function previous_key_materials() {
		$materials = array();
		$parts     = self::salt_parts();
		if ( 'none' !== $parts['key']['source'] && 'none' !== $parts['salt']['source']
			&& ( 'db' === $parts['key']['source'] || 'db' === $parts['salt']['source'] ) ) {
			$materials[] = 'storefront-sync/state/v1|salt|' . $parts['key']['value'] . $parts['salt']['value'];
		}
		$materials[] = self::UNPROTECTED_MATERIAL;
		return array_values( array_diff( $materials, array( self::key_material() ) ) );
	}

	/**
	 * Why the key is not protected, in words (for the notice and Site Health).
	 *
	 * @param array<string, string> $problems key_status()['problems'].
	 * @return string
	 */
	public static function key_problems_text( array $problems ) {
		$words = array(
			/* translators: %s: constant name, e.g. LOGGED_IN_SALT. */
			'missing'    => __( '%s is not defined', 'storefront-sync' ),
			/* translators: %s: constant name, e.g. LOGGED_IN_SALT. */
			'empty'      => __( '%s is empty', 'storefront-sync' ),
			/* translators: %s: constant name, e.g. LOGGED_IN_SALT. */
			'default'    => __( '%s is still "put your unique phrase here"', 'storefront-sync' ),
			/* translators: %s: constant name, e.g. LOGGED_IN_SALT. */
			'duplicated' => __( '%s has the same value as another security key', 'storefront-sync' ),
		);
		$parts = array();
		foreach ( $problems as $name => $problem ) {
			$parts[] = sprintf( $words[ $problem ] ?? '%s', $name );
		}
		return implode( '; ', $parts );
	}

	/**
	 * The line to add to wp-config.php, with a fresh random key.
	 *
	 * @return string
	 */
	public static function suggested_config_line() {
		return sprintf( "define( '%s', '%s' );", self::KEY_CONSTANT, wp_generate_password( 64, false, false ) );
	}

	/**
	 * The Site Health test "Storefront Sync: key for the saved connection":
	 * good with key material from wp-config.php, critical without.
	 *
	 * @return array<string, mixed>
	 */
	public static function site_health_test() {
		$status = self::key_status();
		$result = array(
			'label'       => '',
			'status'      => 'good',
			'badge'       => array(
				'label' => __( 'Security', 'storefront-sync' ),
				'color' => 'blue',
			),
			'description' => '',
			'actions'     => '',
			'test'        => 'storefront_sync_state_key',
		);
		if ( $status['protected'] ) {
			$result['label']       = __( 'Storefront Sync\'s saved connection is encrypted with a key from wp-config.php', 'storefront-sync' );
			$result['description'] = '<p>' . esc_html(
				'constant' === $status['source']
					? __( 'The key is the STOREFRONT_SYNC_STATE_KEY constant in wp-config.php: a copy of the database alone cannot open the saved connection. Keep the constant: without it the connection cannot be opened.', 'storefront-sync' )
					: __( 'The key is derived from the LOGGED_IN_KEY and LOGGED_IN_SALT security keys in wp-config.php: a copy of the database alone cannot open the saved connection. Changing those keys makes it unreadable; a STOREFRONT_SYNC_STATE_KEY constant avoids that.', 'storefront-sync' )
			) . '</p>';
			return $result;
		}
		$result['status']         = 'critical';
		$result['badge']['color'] = 'red';
		$result['label']          = __( 'Storefront Sync\'s saved connection is not protected: wp-config.php has no key for it', 'storefront-sync' );
		$result['description']    = self::unprotected_description_html();
		return $result;
	}

	/**
	 * What the notice and Site Health say when no wp-config.php key exists
	 * (HTML, escaped).
	 *
	 * @return string
	 */
	public static function unprotected_description_html() {
		$status = self::key_status();
		return '<p>' . esc_html(
			sprintf(
				/* translators: %s: what is wrong, e.g. "LOGGED_IN_SALT is not defined". */
				__( 'wp-config.php holds no usable key to encrypt the saved connection (%s). WordPress then keeps its own security keys in the database, so the plugin does not use them: the saved connection (this site\'s secret for the Storefront Sync service and its access to your Stora account) is stored in a form anyone with a copy of the database, such as a backup or a staging copy, can read and use.', 'storefront-sync' ),
				self::key_problems_text( $status['problems'] )
			)
		) . '</p><p>' . esc_html__( 'Add this line to wp-config.php, above the line "That\'s all, stop editing!" (the value is random, generated for you now):', 'storefront-sync' ) . '</p>'
		. '<p><code class="storefront-sync-key-line">' . esc_html( self::suggested_config_line() ) . '</code></p><p>'
		. esc_html__( 'The plugin re-encrypts the saved connection with it on the next page load; nothing else changes. Keep the line in wp-config.php from then on. Treat database backups made before as sensitive.', 'storefront-sync' ) . '</p>';
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
		try {
			$opened = $companion::openState( $sealed, self::key_material() );
			// A state stored before the plain install id existed gets it now.
			self::note_install_id( $opened );
			return self::with_lock( $opened );
		} catch ( Native\Exception\StateUndecryptableException | Bundled\Exception\StateUndecryptableException $e ) {
			// Sealed before wp-config.php had key material (by an earlier
			// version under WordPress's database-stored salt, or unprotected):
			// it still opens, and moves under the wp-config.php key now.
			foreach ( self::previous_key_materials() as $material ) {
				try {
					$opened = $companion::openState( $sealed, $material );
				} catch ( Native\Exception\StateUndecryptableException | Bundled\Exception\StateUndecryptableException $ignored ) {
					continue;
				}
				if ( null !== self::config_key_material() ) {
					self::save( $opened );
				}
				// From here on it seals (and persists) under today's key.
				return self::with_lock( $companion::openState( $opened->sealState( self::key_material() ), self::key_material() ) );
			}
			throw $e;
		}
	}

	/**
	 * Gives a companion the site's lock (`setRefreshLock()`). With the
	 * authorization proxy, Tessera takes it around every change of the Stora
	 * token pair: a refresh (Stora rotates the refresh token on every use, so
	 * two PHP processes refreshing at once would lose the installation), a
	 * connect completion, a disconnect, the uninstall plan, and any other
	 * write of a companion that held a pair. With the broker Tessera never
	 * asks for it; every companion gets it all the same, so no code path
	 * can forget it.
	 *
	 * @param Native\Companion|Bundled\Companion $companion The installation.
	 * @return Native\Companion|Bundled\Companion The same companion.
	 */
	public static function with_lock( Native\Companion|Bundled\Companion $companion ) {
		$companion->setRefreshLock( array( __CLASS__, 'lock' ), array( __CLASS__, 'unlock' ) );
		return $companion;
	}

	/**
	 * Tessera's `lock` callable: MySQL's GET_LOCK on the site's database
	 * connection, which every PHP process of the site (every web server
	 * worker, WP-CLI, cron) waits for, LOCK_WAIT seconds at most. Once it is
	 * held, the state as stored NOW: another process may have refreshed
	 * while this one waited, and this request's object cache still holds
	 * what it read before. So the row is read straight from the database,
	 * and the cached copy dropped, so later reads in this request see it too.
	 *
	 * @param string $name The lock's name (`tessera-refresh-<install id>`).
	 * @return string|null The sealed state as stored, or null when the lock could not be had in time.
	 */
	public static function lock( $name ) {
		global $wpdb;
		$held = $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, %d)', self::lock_name( $name ), self::LOCK_WAIT ) );
		if ( '1' !== (string) $held ) {
			return null; // Timed out (0) or failed (NULL): Tessera ends with lock_unavailable, nothing sent.
		}
		wp_cache_delete( self::OPTION, 'options' );
		$stored = $wpdb->get_var( $wpdb->prepare( "SELECT option_value FROM {$wpdb->options} WHERE option_name = %s", self::OPTION ) );
		return is_string( $stored ) ? $stored : '';
	}

	/**
	 * Tessera's `unlock` callable: RELEASE_LOCK.
	 *
	 * @param string $name The lock's name, as given to lock().
	 * @return void
	 */
	public static function unlock( $name ) {
		global $wpdb;
		$wpdb->get_var( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', self::lock_name( $name ) ) );
	}

	/**
	 * MySQL lock names are at most 64 characters and shared by every
	 * database of the server: a longer name is replaced by its hash (same
	 * name, same lock).
	 *
	 * @param string $name Tessera's lock name.
	 * @return string
	 */
	private static function lock_name( $name ) {
		return strlen( $name ) <= 64 ? $name : 'storefront-sync-' . substr( hash( 'sha256', $name ), 0, 48 );
	}

	/**
	 * A change the plugin makes to the state itself, outside Tessera's
	 * operations (a connect link's pending connect, a site mismatch): the
	 * state is read, changed and stored while the site's lock is held, so
	 * it is the state as stored then. With the authorization proxy another
	 * PHP process may have renewed the Stora tokens since this request read
	 * the state; storing that older copy would bring back a refresh token
	 * Stora has already rotated away. (Tessera's own operations take the
	 * lock themselves.) The lock is Tessera's, named as Tessera names it
	 * (docs/HOST-CONTRACT.md, Lock).
	 *
	 * @param callable $change `function ( $companion ): bool`, true to store the changed state.
	 * @return bool|null Whether it was stored; null when nothing is stored or the lock could not be had.
	 * @throws Native\Exception\TesseraException|Bundled\Exception\TesseraException When the state does not open, or from $change.
	 */
	public static function update( callable $change ) {
		$companion = self::load();
		if ( null === $companion ) {
			return null;
		}
		$name = 'tessera-refresh-' . ( $companion->installId() ?? 'none' );
		if ( null === self::lock( $name ) ) {
			return null;
		}
		try {
			$companion = self::load(); // lock() dropped the cached copy: this is the stored state.
			if ( null === $companion || ! $change( $companion ) ) {
				return false;
			}
			self::save( $companion );
			return true;
		} finally {
			self::unlock( $name );
		}
	}

	/**
	 * Stores what a Tessera operation that ran with the persister left (a
	 * connect completion, a disconnect, a reset), in broker mode. In
	 * authorization-proxy mode it stores nothing: every write of that
	 * operation went through the persister while the refresh lock was held,
	 * and one more write after the lock was released could put back a token
	 * pair another worker has rotated since (Stora revokes the old refresh
	 * token at once: the site would have to reconnect).
	 *
	 * @param Native\Companion|Bundled\Companion $companion The companion the operation ran on.
	 * @return void
	 */
	public static function save_after_operation( Native\Companion|Bundled\Companion $companion ) {
		if ( Storefront_Sync_Settings::is_proxy() ) {
			return;
		}
		self::save( $companion );
	}

	/**
	 * Seals and stores the state.
	 *
	 * @param Native\Companion|Bundled\Companion $companion The installation.
	 * @return void
	 */
	public static function save( Native\Companion|Bundled\Companion $companion ) {
		update_option( self::OPTION, $companion->sealState( self::key_material() ), false );
		self::note_install_id( $companion );
	}

	/**
	 * Keeps INSTALL_ID_OPTION equal to the state's install id (when it has one).
	 *
	 * @param Native\Companion|Bundled\Companion $companion The installation.
	 * @return void
	 */
	private static function note_install_id( Native\Companion|Bundled\Companion $companion ) {
		$install_id = $companion->installId();
		if ( null !== $install_id && self::install_id() !== $install_id ) {
			update_option( self::INSTALL_ID_OPTION, $install_id, false );
		}
	}

	/**
	 * The installation's id as last stored (readable when the sealed state
	 * does not open), or null.
	 *
	 * @return string|null
	 */
	public static function install_id() {
		$id = get_option( self::INSTALL_ID_OPTION, '' );
		return is_string( $id ) && '' !== $id ? $id : null;
	}

	/**
	 * Stores a state Tessera handed to a `persist` callable: sealed
	 * (`tsv1.…`: every companion this plugin makes has a seal key), or its
	 * JSON (defensive: a companion made without one).
	 * Either way it is stored sealed under today's key material.
	 *
	 * @param string $state State JSON or sealed state from Tessera.
	 * @return void
	 * @throws Native\Exception\StateUndecryptableException|Bundled\Exception\StateUndecryptableException When a sealed state does not open with today's key (never expected: every companion the plugin makes seals with it).
	 */
	public static function save_json( $state ) {
		$companion = Storefront_Sync_Tessera::companion();
		if ( 0 !== strpos( $state, 'tsv1.' ) ) {
			self::save( $companion::importState( $state ) );
			return;
		}
		// Every companion this plugin makes seals under today's key (create(),
		// and load(), which re-keys a state opened under an earlier one).
		$opened = $companion::openState( $state, self::key_material() );
		update_option( self::OPTION, $state, false );
		self::note_install_id( $opened );
	}

	/**
	 * Forgets the state (uninstall, or the operator chose to register again).
	 * INSTALL_ID_OPTION stays: "Register again" still needs the old id.
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
		delete_option( self::INSTALL_ID_OPTION );
		delete_option( self::PREVIOUS_INSTALL_ID_OPTION );
		delete_transient( self::LOCK_TRANSIENT );
		Storefront_Sync_Events::forget();
		Storefront_Sync_Settings::delete();
	}
}
