<?php
/**
 * Router for `php -S` serving the test WordPress: what Apache with
 * WordPress's .htaccess does. Existing static files are served as they are,
 * existing PHP files run, anything else (pretty permalinks, the ownership
 * proof at /.well-known/tessera/…) goes to index.php.
 *
 * The WordPress tree is Debian's files linked into a directory of the test's
 * own (WP_ROOT) next to its own wp-config.php; ABSPATH is that directory, so
 * wp-load.php finds this run's configuration and not Debian's.
 */

$tessera_router_root = rtrim( (string) getenv( 'WP_ROOT' ), '/' );
define( 'ABSPATH', $tessera_router_root . '/' );

$tessera_router_path = rawurldecode( (string) parse_url( $_SERVER['REQUEST_URI'], PHP_URL_PATH ) );
if ( '' === $tessera_router_path || str_contains( $tessera_router_path, '..' ) || str_contains( $tessera_router_path, "\0" ) ) {
	http_response_code( 400 );
	return true;
}
$tessera_router_file = $tessera_router_root . $tessera_router_path;
if ( is_dir( $tessera_router_file ) ) {
	if ( ! str_ends_with( $tessera_router_path, '/' ) ) {
		$tessera_router_query = parse_url( $_SERVER['REQUEST_URI'], PHP_URL_QUERY );
		header( 'Location: ' . $tessera_router_path . '/' . ( null === $tessera_router_query ? '' : '?' . $tessera_router_query ), true, 301 );
		return true;
	}
	$tessera_router_path .= 'index.php';
	$tessera_router_file .= 'index.php';
}
if ( is_file( $tessera_router_file ) && ! str_ends_with( $tessera_router_file, '.php' ) ) {
	return false; // A static file: the built-in server sends it.
}
if ( ! is_file( $tessera_router_file ) ) {
	$tessera_router_path = '/index.php';
	$tessera_router_file = $tessera_router_root . '/index.php';
}
$_SERVER['SCRIPT_NAME']     = $tessera_router_path;
$_SERVER['PHP_SELF']        = $tessera_router_path;
$_SERVER['SCRIPT_FILENAME'] = $tessera_router_file;
chdir( dirname( $tessera_router_file ) );
unset( $tessera_router_root, $tessera_router_path, $tessera_router_query );
require $tessera_router_file;
return true;
