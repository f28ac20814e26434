<?php
/**
 * The example plugin's seal key comes from wp-config.php only (docs/SECURITY.md,
 * "Database dumps and backups copied to staging"). No WordPress, no browser:
 * the plugin's Storefront_Sync_State (and the Tessera it runs, the bundled
 * pure-PHP copy unless the extension is loaded) with stubbed WordPress
 * functions, an in-memory options table, and WordPress's own wp_salt() taken
 * from Debian's wp-includes/pluggable.php (so "what WordPress would have
 * stored in the database" is WordPress's code, not a guess). Run by
 * scripts/test.d/40-wordpress.sh before the browser suite:
 *
 *     php tests/wordpress/seal-key.php [plugin dir]
 *
 * Each case runs in a PHP process of its own (constants cannot be undefined).
 * For every bad LOGGED_IN_* configuration (missing, empty, the sample's
 * placeholder, duplicated; with WordPress's generated salts already in the
 * database or not yet): the key material never contains a database-stored or
 * generated salt, wp_salt() is not called, nothing is written to the
 * database's salt options, a new state does not open with the database salt,
 * and the plugin reports the state unprotected (key_status(), Site Health
 * `critical` naming STOREFRONT_SYNC_STATE_KEY). Good configurations keep
 * the exact key material of earlier versions (wp_salt('logged_in')), and a
 * state sealed by an earlier version under the database salt still opens and
 * moves under STOREFRONT_SYNC_STATE_KEY once that is defined.
 */

$plugin = rtrim( $argv[1] ?? dirname( __DIR__, 2 ) . '/examples/wordpress-plugin', '/' );
$case   = $argv[2] ?? null;

const CASES = array(
	// name => [constants to define (null: leave undefined), DB salts present, expected protected]
	'salts-good'                => array( array(), true, true ),
	'constant'                  => array( array( 'STOREFRONT_SYNC_STATE_KEY' => 'a long random string from wp-config.php' ), false, true ),
	'secret-key'                => array( array( 'LOGGED_IN_KEY' => null, 'SECRET_KEY' => 'secret-key-from-wp-config-0123456789abcdef' ), false, true ),
	'missing'                   => array( array( 'LOGGED_IN_SALT' => null ), false, false ),
	'missing-db-has-salt'       => array( array( 'LOGGED_IN_SALT' => null ), true, false ),
	'missing-both'              => array( array( 'LOGGED_IN_KEY' => null, 'LOGGED_IN_SALT' => null ), true, false ),
	'empty'                     => array( array( 'LOGGED_IN_SALT' => '' ), false, false ),
	'empty-db-has-salt'         => array( array( 'LOGGED_IN_SALT' => '' ), true, false ),
	'default-phrase'            => array( array( 'LOGGED_IN_KEY' => 'put your unique phrase here' ), false, false ),
	'default-phrase-db-has-key' => array( array( 'LOGGED_IN_KEY' => 'put your unique phrase here' ), true, false ),
	'duplicated'                => array( array( 'LOGGED_IN_SALT' => 'auth-salt-0123456789abcdef0123456789abcdef' ), false, false ),
	'duplicated-db-has-salt'    => array( array( 'LOGGED_IN_SALT' => 'auth-salt-0123456789abcdef0123456789abcdef' ), true, false ),
	'constant-is-placeholder'   => array( array( 'STOREFRONT_SYNC_STATE_KEY' => 'put your unique phrase here', 'LOGGED_IN_SALT' => null ), true, false ),
);

// ---- the parent: one process per case ---------------------------------------------------------
if ( null === $case ) {
	$failed = 0;
	foreach ( array_keys( CASES ) as $name ) {
		$cmd   = array( PHP_BINARY );
		$cmd[] = __FILE__;
		$cmd[] = $plugin;
		$cmd[] = $name;
		exec( implode( ' ', array_map( 'escapeshellarg', $cmd ) ) . ' 2>&1', $out, $status );
		$text = trim( implode( "\n", $out ) );
		$out  = array();
		if ( 0 === $status ) {
			echo "ok   $name\n";
		} else {
			++$failed;
			echo "FAIL $name\n", preg_replace( '/^/m', '       ', $text ), "\n";
		}
	}
	echo 0 === $failed ? 'seal-key: ' . count( CASES ) . " cases, the seal key never comes from the database\n" : "seal-key: $failed of " . count( CASES ) . " cases failed\n";
	exit( 0 === $failed ? 0 : 1 );
}

// ---- one case ---------------------------------------------------------------------------------
[ $overrides, $db_has_salts, $expect_protected ] = CASES[ $case ];
$failures = array();
function check( $ok, $what ) {
	global $failures;
	if ( ! $ok ) {
		$failures[] = $what;
	}
}
set_error_handler(
	static function ( $no, $message, $file, $line ) {
		throw new ErrorException( $message, 0, $no, $file, $line );
	}
);

// wp-config.php: the eight salts, with this case's changes.
$config = array(
	'AUTH_KEY'         => 'auth-key-0123456789abcdef0123456789abcdef',
	'SECURE_AUTH_KEY'  => 'secure-auth-key-0123456789abcdef0123456789',
	'LOGGED_IN_KEY'    => 'logged-in-key-0123456789abcdef0123456789ab',
	'NONCE_KEY'        => 'nonce-key-0123456789abcdef0123456789abcdef',
	'AUTH_SALT'        => 'auth-salt-0123456789abcdef0123456789abcdef',
	'SECURE_AUTH_SALT' => 'secure-auth-salt-0123456789abcdef012345678',
	'LOGGED_IN_SALT'   => 'logged-in-salt-0123456789abcdef0123456789a',
	'NONCE_SALT'       => 'nonce-salt-0123456789abcdef0123456789abcde',
);
foreach ( $overrides as $name => $value ) {
	$config[ $name ] = $value;
}
foreach ( $config as $name => $value ) {
	if ( null !== $value ) {
		define( $name, $value );
	}
}
define( 'ABSPATH', '/nonexistent/' );

// The database: wp_options and (single site) the site options WordPress keeps its generated salts in.
const DB_LOGGED_IN_KEY  = 'DB-STORED-logged-in-key-generated-by-wordpress-zzzzzzzzzzzzzzzzzz';
const DB_LOGGED_IN_SALT = 'DB-STORED-logged-in-salt-generated-by-wordpress-zzzzzzzzzzzzzzzzz';
$GLOBALS['options']      = $db_has_salts ? array(
	'logged_in_key'  => DB_LOGGED_IN_KEY,
	'logged_in_salt' => DB_LOGGED_IN_SALT,
) : array();
$GLOBALS['salt_writes']  = array();
$GLOBALS['wp_salt_call'] = 0;
$GLOBALS['generated']    = array();

function get_option( $name, $default = false ) {
	return $GLOBALS['options'][ $name ] ?? $default;
}
function update_option( $name, $value, $autoload = null ) {
	$GLOBALS['options'][ $name ] = $value;
	return true;
}
function delete_option( $name ) {
	unset( $GLOBALS['options'][ $name ] );
	return true;
}
function get_site_option( $name, $default = false ) {
	return get_option( $name, $default );
}
function update_site_option( $name, $value ) {
	$GLOBALS['salt_writes'][] = $name;
	return update_option( $name, $value );
}
function wp_generate_password( $length = 12, $special = true, $extra = false ) {
	$chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789' . ( $special ? '!@#$%^&*()' : '' ) . ( $extra ? '-_ []{}<>~`+=,.;:/?|' : '' );
	$out   = '';
	for ( $i = 0; $i < $length; $i++ ) {
		$out .= $chars[ random_int( 0, strlen( $chars ) - 1 ) ];
	}
	$GLOBALS['generated'][] = $out;
	return $out;
}
function apply_filters( $hook, $value ) {
	return $value;
}
function __( $text, $domain = 'default' ) {
	return $text;
}
function esc_html( $text ) {
	return htmlspecialchars( (string) $text, ENT_QUOTES );
}
function esc_html__( $text, $domain = 'default' ) {
	return esc_html( $text );
}
function esc_attr( $text ) {
	return esc_html( $text );
}

// WordPress's own wp_salt(), renamed, from Debian's package; wp_salt() counts the calls.
$pluggable = '/usr/share/wordpress/wp-includes/pluggable.php';
if ( ! is_readable( $pluggable ) ) {
	fwrite( STDERR, "seal-key: $pluggable is missing (Debian's wordpress package)\n" );
	exit( 2 );
}
$tokens = token_get_all( file_get_contents( $pluggable ) );
$source = '';
$depth  = 0;
$inside = false;
foreach ( $tokens as $i => $token ) {
	$text = is_array( $token ) ? $token[1] : $token;
	if ( ! $inside ) {
		if ( is_array( $token ) && T_FUNCTION === $token[0] && is_array( $tokens[ $i + 2 ] ?? null ) && 'wp_salt' === $tokens[ $i + 2 ][1] ) {
			$inside = true;
			$source = 'function wordpress_wp_salt';
			$skip   = $i + 2;
		}
		continue;
	}
	if ( $i <= $skip ) {
		continue;
	}
	$source .= $text;
	if ( '{' === $text || ( is_array( $token ) && in_array( $token[0], array( T_CURLY_OPEN, T_DOLLAR_OPEN_CURLY_BRACES ), true ) ) ) {
		++$depth;
	} elseif ( '}' === $text ) {
		--$depth;
		if ( 0 === $depth ) {
			break;
		}
	}
}
eval( $source ); // phpcs:ignore Squiz.PHP.Eval.Discouraged -- WordPress's function, verbatim.
function wp_salt( $scheme = 'auth' ) {
	++$GLOBALS['wp_salt_call'];
	return wordpress_wp_salt( $scheme );
}

require $plugin . '/includes/class-storefront-sync-tessera.php';
require $plugin . '/includes/class-storefront-sync-state.php';

$db_values = static function () {
	return array_merge( array( DB_LOGGED_IN_KEY, DB_LOGGED_IN_SALT ), $GLOBALS['generated'] );
};
$contains_db_salt = static function ( $material ) use ( $db_values ) {
	foreach ( $db_values() as $value ) {
		if ( '' !== $value && str_contains( $material, $value ) ) {
			return true;
		}
	}
	return false;
};

// 1. The key material.
$material = Storefront_Sync_State::key_material();
check( 0 === $GLOBALS['wp_salt_call'], "key_material() calls wp_salt() ({$GLOBALS['wp_salt_call']} calls): WordPress stores a generated salt in the database when a LOGGED_IN_* constant is unusable" );
check( array() === $GLOBALS['salt_writes'], 'the database\'s salt options were written: ' . implode( ', ', $GLOBALS['salt_writes'] ) );
check( ! $contains_db_salt( $material ), 'the key material contains a salt stored in (or just generated for) the database' );

// 2. The reported state.
if ( ! method_exists( 'Storefront_Sync_State', 'key_status' ) || ! method_exists( 'Storefront_Sync_State', 'site_health_test' ) ) {
	check( false, 'Storefront_Sync_State reports nothing about its key (no key_status(), no Site Health test)' );
} else {
	$status = Storefront_Sync_State::key_status();
	check( $expect_protected === $status['protected'], 'key_status() says protected = ' . var_export( $status['protected'], true ) . ', expected ' . var_export( $expect_protected, true ) );
	$health = Storefront_Sync_State::site_health_test();
	if ( $expect_protected ) {
		check( 'good' === $health['status'], "Site Health says {$health['status']}, expected good" );
	} else {
		check( 'critical' === $health['status'], "Site Health says {$health['status']}, expected critical" );
		check( str_contains( $health['description'], 'STOREFRONT_SYNC_STATE_KEY' ), 'Site Health does not say what to add to wp-config.php' );
		check( array() !== $status['problems'], 'key_status() names no problem' );
	}
	check( 0 === $GLOBALS['wp_salt_call'] && array() === $GLOBALS['salt_writes'], 'reporting the key status called wp_salt() or wrote a salt to the database' );
}

// 3. Sealing and opening a state.
$companion_class = Storefront_Sync_Tessera::companion();
// The state as JSON.
$state_json = static fn ( $c ) => $c->exportState();
$companion       = $companion_class::create(
	array(
		'broker_url' => 'https://broker.example.com',
	)
);
Storefront_Sync_State::save( $companion );
$sealed = get_option( Storefront_Sync_State::OPTION );
check( is_string( $sealed ) && '' !== $sealed, 'save() stored nothing' );
check( null !== Storefront_Sync_State::load(), 'load() does not open what save() sealed' );
check( 0 === $GLOBALS['wp_salt_call'] && array() === $GLOBALS['salt_writes'], 'save()/load() called wp_salt() or wrote a salt to the database' );

// What the earlier plugin sealed under: 'storefront-sync/state/v1|salt|' . wp_salt( 'logged_in' ),
// WordPress's function as it runs on this configuration (from here on, its database writes are expected).
$legacy = 'storefront-sync/state/v1|salt|' . wordpress_wp_salt( 'logged_in' );
$opens  = static function ( $blob, $material ) use ( $companion_class ) {
	try {
		$companion_class::openState( $blob, $material );
		return true;
	} catch ( Exception $e ) {
		return false;
	}
};
if ( $expect_protected ) {
	if ( ! defined( 'STOREFRONT_SYNC_STATE_KEY' ) ) {
		check( $material === $legacy, 'with usable wp-config.php salts the key material changed from earlier versions\' wp_salt(\'logged_in\'): existing states would not open' );
	}
} else {
	check( ! $opens( $sealed, $legacy ), 'a new state is sealed under the database-stored salt (wp_salt(\'logged_in\'))' );

	// 4. Upgrade: a state the earlier plugin sealed under the database salt still opens…
	if ( $db_has_salts ) {
		update_option( Storefront_Sync_State::OPTION, $companion->sealState( $legacy ) );
		$calls = $GLOBALS['wp_salt_call'];
		try {
			$opened = Storefront_Sync_State::load();
			check( null !== $opened && $state_json( $opened ) === $state_json( $companion ), 'a state sealed by an earlier version (database salt) opens as something else' );
		} catch ( Exception $e ) {
			check( false, 'a state sealed by an earlier version (database salt) no longer opens: ' . get_class( $e ) );
		}
		check( $calls === $GLOBALS['wp_salt_call'], 'opening an earlier version\'s state called wp_salt()' );
		// …and moves under STOREFRONT_SYNC_STATE_KEY as soon as wp-config.php has it.
		if ( ! defined( 'STOREFRONT_SYNC_STATE_KEY' ) ) {
			define( 'STOREFRONT_SYNC_STATE_KEY', 'added to wp-config.php after the warning' );
			try {
				$opened = Storefront_Sync_State::load();
				check( null !== $opened && $state_json( $opened ) === $state_json( $companion ), 'with the constant added, the earlier state opens as something else' );
				$moved = get_option( Storefront_Sync_State::OPTION );
				check( ! $opens( $moved, $legacy ), 'with the constant added, the state stays sealed under the database salt' );
				check( $opens( $moved, Storefront_Sync_State::key_material() ), 'with the constant added, the state is not sealed under it' );
				check( Storefront_Sync_State::key_status()['protected'], 'with the constant added, the state is still reported unprotected' );
			} catch ( Exception $e ) {
				check( false, 'with the constant added, the earlier state no longer opens: ' . get_class( $e ) );
			}
		}
	}
}

if ( array() !== $failures ) {
	echo implode( "\n", $failures ), "\n";
	exit( 1 );
}
exit( 0 );
