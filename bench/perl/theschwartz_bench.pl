#!/usr/bin/perl
# Perl TheSchwartz baseline for `cargo xtask bench`.
#
# Inserts --jobs no-op jobs one `insert` call at a time, then works them with --workers
# processes (each running work_until_done until the queue is empty), on a database that
# already has TheSchwartz's tables. Prints one line:
#   inserted=<n> insert_seconds=<s> worked=<n> work_seconds=<s> left=<n>
#
#   perl theschwartz_bench.pl --dsn 'dbi:Pg:dbname=x;host=127.0.0.1' --user postgres \
#        --jobs 10000 --workers 2
use strict;
use warnings;
use Getopt::Long;
use Time::HiRes qw(time sleep);
use DBI;
use TheSchwartz;

my ($dsn, $user, $pass, $jobs, $workers) = (undef, '', '', 10000, 1);
GetOptions(
    'dsn=s'     => \$dsn,
    'user=s'    => \$user,
    'pass=s'    => \$pass,
    'jobs=i'    => \$jobs,
    'workers=i' => \$workers,
) or die "usage: $0 --dsn DSN [--user U] [--pass P] [--jobs N] [--workers K]\n";
die "--dsn is required\n" unless $dsn;

package Bench::Noop;
use base 'TheSchwartz::Worker';
sub work {
    my ($class, $job) = @_;
    $job->completed;
}

package main;

# Perl at its best: keep the database connection (TheSchwartz's default,
# driver_cache_expiration 0, opens a new connection for almost every operation).
sub new_client {
    return TheSchwartz->new(
        databases               => [ { dsn => $dsn, user => $user, pass => $pass } ],
        driver_cache_expiration => 3600,
    );
}

sub pending {
    my $dbh = DBI->connect($dsn, $user, $pass, { RaiseError => 1, PrintError => 0 });
    my ($n) = $dbh->selectrow_array('SELECT COUNT(*) FROM job');
    $dbh->disconnect;
    return $n;
}

# Insert, one job per insert call (TheSchwartz's usual path).
my $client = new_client();
my $t0 = time;
for my $i (1 .. $jobs) {
    $client->insert('Bench::Noop', { n => $i }) or die "insert $i failed\n";
}
my $insert_seconds = time - $t0;
undef $client;

# Work with K processes.
my $t1 = time;
my @pids;
for my $w (1 .. $workers) {
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        my $c = new_client();
        $c->can_do('Bench::Noop');
        while (1) {
            $c->work_until_done;
            last if pending() == 0;
            sleep 0.01;
        }
        exit 0;
    }
    push @pids, $pid;
}
waitpid($_, 0) for @pids;
my $work_seconds = time - $t1;
my $left = pending();
printf "inserted=%d insert_seconds=%.4f worked=%d work_seconds=%.4f left=%d\n",
    $jobs, $insert_seconds, $jobs - $left, $work_seconds, $left;
