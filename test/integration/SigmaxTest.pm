# SigmaxTest.pm: helpers shared by sigmax's integration tests.
# Clusters with sigmax preloaded (PostgreSQL::Test::Cluster) and the loopback mock exchange.
package SigmaxTest;

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec;
use IPC::Run ();
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(sigmax_node start_mock_exchange stop_mock_exchange
  mock_get mock_control fixture_path test_root);

# Root of the test tree copy (scripts/test.sh sets SIGMAX_TEST_ROOT).
sub test_root
{
	return $ENV{SIGMAX_TEST_ROOT} // File::Spec->rel2abs(dirname(__FILE__) . '/../..');
}

sub fixture_path
{
	my ($rel) = @_;
	return test_root() . "/test/mock_exchange/fixtures/$rel";
}

# A new cluster with sigmax preloaded unless preload => 0; extra postgresql.conf
# lines in conf. Started, with the extension created in database sigmax unless
# create => 0. The exchange poller is off unless worker => 1: a test that adds a
# venue with its public URL must never reach the internet.
sub sigmax_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opts{init} // {} });
	my $preload = $opts{preload} // 1;
	my $key = $node->basedir . '/checkpoint.pem';
	PostgreSQL::Test::Utils::system_or_bail('openssl', 'genpkey', '-algorithm', 'ed25519', '-out', $key);
	chmod 0600, $key;
	$node->append_conf('postgresql.conf',
		($preload ? "shared_preload_libraries = 'sigmax'\n" : '')
		  . "sigmax.database = 'sigmax'\n"
		  . "sigmax.checkpoint_key_file = '$key'\n"
		  . "sigmax.worker_enabled = " . (($opts{worker} // 0) ? 'on' : 'off') . "\n"
		  . ($opts{conf} // ''));
	$node->start;
	if ($opts{create} // 1)
	{
		$node->safe_psql('postgres', 'CREATE DATABASE sigmax');
		$node->safe_psql('sigmax', 'CREATE EXTENSION sigmax');
	}
	return $node;
}

# Start one of the loopback stand-ins (a Python script under test/) on a free port,
# in a directory of its own; returns a hash with port, url, handle, ca (the CA file
# named by $ca_name, with tls => 1) and stderr.
sub start_loopback_server
{
	my ($what, $script, $ca_name, $extra, %opts) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir();
	my $port_file = "$dir/port";
	my @cmd = ('/usr/bin/python3', test_root() . "/test/$script", '--port', '0', '--port-file', $port_file,
		$extra->($dir));
	push @cmd, '--tls', '--cert-dir', $dir if $opts{tls};
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(\@cmd, '>', \$out, '2>', \$err);
	for (1 .. 200)
	{
		last if -s $port_file;
		usleep(50_000);
	}
	die "$what did not start: $err" unless -s $port_file;
	my $port = PostgreSQL::Test::Utils::slurp_file($port_file);
	chomp $port;
	my $scheme = $opts{tls} ? 'https' : 'http';
	return {
		port => $port,
		url => "$scheme://127.0.0.1:$port",
		handle => $h,
		ca => $opts{tls} ? "$dir/$ca_name" : undef,
		stderr => \$err,
	};
}

sub stop_loopback_server
{
	my ($server) = @_;
	$server->{handle}->signal('TERM');
	$server->{handle}->finish;
	return;
}

# Start test/mock_exchange on a free loopback port (see start_loopback_server).
sub start_mock_exchange
{
	return start_loopback_server('mock exchange', 'mock_exchange/mock_exchange.py', 'ca.pem', sub { () }, @_);
}

sub stop_mock_exchange { return stop_loopback_server(@_); }

# GET a path from the mock exchange with the curl command line (real libcurl);
# returns (HTTP status, body).
sub mock_get
{
	my ($mock, $path, @curl_opts) = @_;
	push @curl_opts, '--cacert', $mock->{ca} if $mock->{ca};
	my ($body, $err) = ('', '');
	IPC::Run::run([ 'curl', '-sS', '--max-time', '10', '-w', '\n%{http_code}',
			@curl_opts, $mock->{url} . $path ],
		'>', \$body, '2>', \$err);
	$body =~ s/\n(\d{3})\z//;
	return ($1 // 0, $body, $err);
}

# Call the mock exchange's control API: method, path under /__mock/, optional JSON body.
sub mock_control
{
	my ($mock, $method, $what, $json) = @_;
	my @data = defined $json ? ('-H', 'Content-Type: application/json', '--data', $json) : ();
	my ($status, $body) = mock_get($mock, "/__mock/$what", '-X', $method, @data);
	die "mock control $method $what failed: $status" unless $status =~ /^2/;
	return $body;
}

# The loopback stand-in for Vault's KV v2 API (test/mock_vault/vault.py).
push @EXPORT, qw(start_mock_vault stop_mock_vault mock_vault_control mock_vault_requests);

# Start test/mock_vault on a free loopback port. token: the X-Vault-Token it accepts;
# secrets: { path under /v1/ => answer } (see vault.py); tls => 1 for https with a
# self-signed certificate for 127.0.0.1 (its file in ca). Returns a hash with port,
# url, handle and ca.
sub start_mock_vault
{
	my (%opts) = @_;
	require JSON::PP;
	my $secrets = sub {
		my ($dir) = @_;
		open my $fh, '>', "$dir/secrets.json" or die "cannot write $dir/secrets.json: $!";
		print $fh JSON::PP->new->canonical->encode($opts{secrets} // {});
		close $fh;
		return ('--token', $opts{token}, '--secrets', "$dir/secrets.json");
	};
	return start_loopback_server('mock vault', 'mock_vault/vault.py', 'cert.pem', $secrets, %opts);
}

sub stop_mock_vault { return stop_loopback_server(@_); }

# Call the mock vault's control API (/__mock/<what>) with curl, never through a proxy;
# returns the decoded JSON answer.
sub mock_vault_control
{
	my ($vault, $method, $what, $json) = @_;
	require JSON::PP;
	my @opts = ('-sS', '--noproxy', '*', '--max-time', '10', '-X', $method, '-w', '\n%{http_code}');
	push @opts, '--cacert', $vault->{ca} if $vault->{ca};
	push @opts, '-H', 'Content-Type: application/json', '--data', $json if defined $json;
	my ($body, $err) = ('', '');
	IPC::Run::run([ 'curl', @opts, "$vault->{url}/__mock/$what" ], '>', \$body, '2>', \$err);
	$body =~ s/\n(\d{3})\z//;
	die "mock vault control $method $what failed: " . ($1 // $err) unless ($1 // '') =~ /^2/;
	return JSON::PP::decode_json($body);
}

# The requests the mock vault received, in order: [{seq, method, path, token, status}].
sub mock_vault_requests
{
	my ($vault) = @_;
	return mock_vault_control($vault, 'GET', 'requests')->{requests};
}

1;
