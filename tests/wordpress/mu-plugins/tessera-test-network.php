<?php
/**
 * Plugin Name: Tessera test: network switch
 * Description: Test only (scripts/test.d/40-wordpress.sh). While the file
 * wp-content/broker-unreachable exists, every request to the broker fails as
 * a refused connection would. Also keeps WordPress from trying to send mail.
 */

add_filter(
	'pre_http_request',
	static function ( $pre, $args, $url ) {
		$down = file_exists( WP_CONTENT_DIR . '/broker-unreachable' );
		if ( $down && defined( 'STOREFRONT_SYNC_BROKER_URL' ) && 0 === strpos( $url, STOREFRONT_SYNC_BROKER_URL ) ) {
			return new WP_Error( 'http_request_failed', 'cURL error 7: Failed to connect to the broker (simulated by the test)' );
		}
		return $pre;
	},
	10,
	3
);

add_filter( 'pre_wp_mail', '__return_false' );
