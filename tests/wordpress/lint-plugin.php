<?php
/**
 * The example plugin works with either Tessera (the native extension or its
 * bundled copy, see includes/class-storefront-sync-tessera.php) only if its
 * code never assumes one. Run by scripts/test.d/40-wordpress.sh:
 *
 *     php tests/wordpress/lint-plugin.php examples/wordpress-plugin
 *
 * Fails when, outside the resolver and the bundled copy:
 *   - a catch names one implementation's exception without the other's
 *     (`Native\Exception\X | Bundled\Exception\X`, or the fully qualified
 *     `\Tessera\Exception\X | \StorefrontSync\Vendor\Tessera\Exception\X`);
 *   - a Tessera class is constructed or called statically by name
 *     (`new Native\…`, `Bundled\Companion::create`, `\Tessera\Companion::…`):
 *     that goes through Storefront_Sync_Tessera;
 *   - the code tests `extension_loaded( 'tessera' )` itself;
 *   - a `use` imports a Tessera class rather than the two namespaces.
 * Also `php -l` on every file.
 */

$root   = rtrim( $argv[1] ?? '', '/' );
$errors = array();
$files  = new RecursiveIteratorIterator( new RecursiveDirectoryIterator( $root, FilesystemIterator::SKIP_DOTS ) );
$count  = 0;
foreach ( $files as $file ) {
	$path = $file->getPathname();
	$rel  = substr( $path, strlen( $root ) + 1 );
	if ( ! str_ends_with( $path, '.php' ) || str_starts_with( $rel, 'vendor-prefixed/' ) ) {
		continue;
	}
	++$count;
	exec( 'php -l ' . escapeshellarg( $path ) . ' 2>&1', $out, $status );
	if ( 0 !== $status ) {
		$errors[] = "$rel: " . implode( ' ', $out );
	}
	if ( 'includes/class-storefront-sync-tessera.php' === $rel ) {
		continue;
	}
	$code = file_get_contents( $path );
	$line = static fn ( int $offset ): int => substr_count( $code, "\n", 0, $offset ) + 1;

	preg_match_all( '/\bcatch\s*\(([^)]*)\)/', $code, $catches, PREG_SET_ORDER | PREG_OFFSET_CAPTURE );
	foreach ( $catches as $catch ) {
		$sides = array(
			'native'  => array(),
			'bundled' => array(),
		);
		foreach ( explode( '|', preg_replace( '/\$\w+\s*$/', '', $catch[1][0] ) ) as $type ) {
			$type = trim( $type );
			if ( preg_match( '/^(?:Native|\\\\Tessera)\\\\(.+)$/', $type, $m ) ) {
				$sides['native'][] = $m[1];
			} elseif ( preg_match( '/^(?:Bundled|\\\\StorefrontSync\\\\Vendor\\\\Tessera)\\\\(.+)$/', $type, $m ) ) {
				$sides['bundled'][] = $m[1];
			} elseif ( preg_match( '/Tessera|Exception\\\\/', $type ) ) {
				$errors[] = "$rel:{$line($catch[0][1])}: `$type` in a catch is neither Native\\… nor Bundled\\…";
			}
		}
		sort( $sides['native'] );
		sort( $sides['bundled'] );
		if ( $sides['native'] !== $sides['bundled'] ) {
			$errors[] = "$rel:{$line($catch[0][1])}: `{$catch[0][0]}` does not catch the same exceptions of both implementations";
		}
	}
	$rules = array(
		'/\bnew\s+(?:Native|Bundled|\\\\?Tessera|\\\\?StorefrontSync)\\\\/' => 'constructs a Tessera class by name (use Storefront_Sync_Tessera)',
		'/(?:\bNative|\bBundled|\\\\?\bTessera|\\\\?\bStorefrontSync\\\\Vendor\\\\Tessera)\\\\[A-Za-z\\\\]+::/' => 'calls a Tessera class by name (use Storefront_Sync_Tessera::companion())',
		'/extension_loaded\s*\(\s*[\'"]tessera/' => 'tests for the extension itself (use Storefront_Sync_Tessera)',
		'/^use\s+(?!Tessera as Native;|StorefrontSync\\\\Vendor\\\\Tessera as Bundled;)[^;]*Tessera/m' => 'imports a Tessera name (import the namespaces: use Tessera as Native; use StorefrontSync\Vendor\Tessera as Bundled;)',
	);
	foreach ( $rules as $pattern => $message ) {
		if ( preg_match_all( $pattern, $code, $hits, PREG_OFFSET_CAPTURE ) ) {
			foreach ( $hits[0] as $hit ) {
				$errors[] = "$rel:{$line($hit[1])}: `{$hit[0]}` $message";
			}
		}
	}
}
if ( 0 === $count ) {
	$errors[] = "no PHP file under $root";
}
if ( array() !== $errors ) {
	fwrite( STDERR, "lint-plugin:\n  " . implode( "\n  ", $errors ) . "\n" );
	exit( 1 );
}
echo "lint-plugin: $count files, every catch names both implementations\n";
