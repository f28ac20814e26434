<?php
/**
 * Installs WordPress into the test's private database (what the web
 * installer does), with pretty permalinks so rewrite rules (the plugin's
 * /.well-known/tessera/ route) are used. Run with the PHP CLI:
 *   WP_ROOT=… WP_URL=http://127.0.0.1:PORT php install.php
 */

$root = rtrim( (string) getenv( 'WP_ROOT' ), '/' );
$url  = (string) getenv( 'WP_URL' );
define( 'ABSPATH', $root . '/' );
define( 'WP_INSTALLING', true );
$_SERVER['HTTP_HOST']       = parse_url( $url, PHP_URL_HOST ) . ':' . parse_url( $url, PHP_URL_PORT );
$_SERVER['REQUEST_URI']     = '/';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';

require ABSPATH . 'wp-load.php';
require ABSPATH . 'wp-admin/includes/upgrade.php';

$result = wp_install( 'Northwind Storefront', 'admin', 'admin@northwind.example', false, '', 'tessera-admin-password' );
if ( is_wp_error( $result ) ) {
	fwrite( STDERR, 'wp_install failed: ' . $result->get_error_message() . "\n" );
	exit( 1 );
}
$GLOBALS['wp_rewrite']->set_permalink_structure( '/%postname%/' );
flush_rewrite_rules();
echo 'WordPress ' . get_bloginfo( 'version' ) . " installed\n";
