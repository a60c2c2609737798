#!/usr/bin/perl
# Inserts jobs with Perl TheSchwartz.
#
#   insert.pl --dsn DSN [--user U] [--pass P] [--verbose] < SPECS
#
# One job per stdin line, tab-separated: FUNCNAME, ARG, UNIQKEY, where ARG is the scalar
# argument as hex (empty for the empty string), "-" for no argument, or "eval:" and the hex
# of a Perl expression whose value is the argument (e.g. a hash reference, which
# TheSchwartz stores with Storable's nfreeze), and UNIQKEY is "-" for none. Prints per line (numbered from 1):
#   INSERTED <line> <jobid> <handle>
#   DUPLICATE <line>            (the uniqkey was taken: TheSchwartz returns no handle)
#   FAILED <line> <reason>      (then exits 1)
# and finally "DONE <count inserted>".
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use CompatCommon qw(parse_db_opts new_client from_hex only_hash);
use TheSchwartz::Job;

$| = 1;
my $o      = parse_db_opts();
my $client = new_client($o);
my $hash   = only_hash($client);
my ( $n, $inserted ) = ( 0, 0 );

while ( my $line = <STDIN> ) {
    chomp $line;
    next if $line eq '';
    $n++;
    my ( $func, $arg, $uniqkey ) = split /\t/, $line, -1;
    die "line $n: expected FUNCNAME<TAB>ARG<TAB>UNIQKEY\n" unless defined $uniqkey;
    my %fields = ( funcname => $func );
    if ( $arg =~ /\Aeval:(.*)\z/ ) {
        my $code  = from_hex($1);
        my $value = eval $code;
        die "line $n: the argument expression failed: $@" if $@;
        $fields{arg} = $value;
    }
    elsif ( $arg ne '-' ) {
        $fields{arg} = from_hex($arg);
    }
    $fields{uniqkey} = $uniqkey unless $uniqkey eq '-';
    my $job    = TheSchwartz::Job->new(%fields);
    my $handle = $client->insert($job);
    if ($handle) {
        $inserted++;
        print "INSERTED $n ", $handle->jobid, ' ', $handle->as_string, "\n";
    }
    elsif ( $client->is_database_dead($hash) ) {
        print "FAILED $n the database was marked dead (see stderr with --verbose)\n";
        exit 1;
    }
    else {
        print "DUPLICATE $n\n";
    }
}
print "DONE $inserted\n";
exit 0;
