#!/usr/bin/perl
# Reads jobs' status with Perl TheSchwartz's job handles.
#
#   status.pl --dsn DSN [--user U] [--pass P] [--verbose] < JOBIDS
#
# One job id per stdin line. Prints per job:
#   STATUS <jobid> <is_pending 0|1> <exit_status or -> <failures> <failure_log as
#   comma-separated hex, sorted, or ->
# and finally "DONE <count>".
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use CompatCommon qw(parse_db_opts new_client to_hex only_hash);
use TheSchwartz::JobHandle;

$| = 1;
my $o      = parse_db_opts();
my $client = new_client($o);
my $hash   = only_hash($client);
my $n      = 0;

while ( my $id = <STDIN> ) {
    chomp $id;
    next if $id eq '';
    my $h = TheSchwartz::JobHandle->new_from_string("$hash-$id");
    $h->client($client);
    my $exit = $h->exit_status;
    my @log  = sort map { to_hex($_) } $h->failure_log;
    printf "STATUS %s %d %s %d %s\n", $id, ( $h->is_pending ? 1 : 0 ),
        ( defined $exit ? $exit : '-' ), $h->failures, ( @log ? join( ',', @log ) : '-' );
    $n++;
}
print "DONE $n\n";
exit 0;
