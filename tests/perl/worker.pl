#!/usr/bin/perl
# Works jobs with Perl TheSchwartz until none is left.
#
#   worker.pl --dsn DSN [--user U] [--pass P] [--verbose]
#             --func NAME=MODE [--func NAME=MODE ...]
#             [--max-retries N] [--keep-exit SECONDS] [--max-jobs N]
#
# NAME is the function name (TheSchwartz uses it as the worker class name; a class is
# made for it here). MODE:
#   complete   completes the job
#   echo       same (the argument is printed, as for every mode)
#   fail-once  fails while the job has no failure on record, then completes
#   fail       always fails, with exit status 7
# Prints for every job worked:
#   WORK <jobid> <funcname> <failures before> <arg as hex | UNDEF | REF | EMPTY>
#   DUMP <jobid> <the argument by Data::Dumper: one line, sorted keys, "\x{..}" escapes>
#                              (only for reference arguments, after WORK)
#   OUTCOME <jobid> <completed|failed>
# and finally "WORKED <count>". Exits 1 when the database was marked dead.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use CompatCommon qw(parse_db_opts new_client to_hex only_hash);
use TheSchwartz;
use TheSchwartz::Worker;
use Data::Dumper ();

$| = 1;
my @funcs;
my ( $max_retries, $keep_exit, $max_jobs ) = ( 0, 0, 1000 );
my $o = parse_db_opts(
    'func=s'        => \@funcs,
    'max-retries=i' => \$max_retries,
    'keep-exit=i'   => \$keep_exit,
    'max-jobs=i'    => \$max_jobs,
);
die "at least one --func NAME=MODE is required\n" unless @funcs;

our %MODE;

{
    package CompatWorker;
    use parent -norequire, 'TheSchwartz::Worker';

    sub max_retries          { $max_retries }
    sub retry_delay          { 0 }
    sub keep_exit_status_for { $keep_exit }

    sub work {
        my ( $class, $job ) = @_;
        my $arg = $job->arg;
        my $shown
            = !defined $arg ? 'UNDEF'
            : ref $arg      ? 'REF'
            : $arg eq ''    ? 'EMPTY'
            :                 CompatCommon::to_hex($arg);
        my $failures = $job->failures;
        my $mode     = $MODE{ $job->funcname } or die "no mode for " . $job->funcname;
        print "WORK ", $job->jobid, " ", $job->funcname, " $failures $shown\n";
        if ( ref $arg ) {
            my $dump = Data::Dumper->new( [$arg] )->Terse(1)->Indent(0)->Sortkeys(1)->Useqq(1)->Dump;
            print "DUMP ", $job->jobid, " $dump\n";
        }
        if ( $mode eq 'fail' ) {
            $job->failed( "compat: always fails", 7 );
            print "OUTCOME ", $job->jobid, " failed\n";
        }
        elsif ( $mode eq 'fail-once' && $failures == 0 ) {
            $job->failed("compat: first attempt fails");
            print "OUTCOME ", $job->jobid, " failed\n";
        }
        else {
            $job->completed;
            print "OUTCOME ", $job->jobid, " completed\n";
        }
    }
}

my $client = new_client($o);
for my $spec (@funcs) {
    my ( $name, $mode ) = split /=/, $spec, 2;
    die "bad --func $spec\n" unless defined $mode && $mode =~ /\A(?:complete|echo|fail-once|fail)\z/;
    no strict 'refs';
    @{"${name}::ISA"} = ('CompatWorker');
    $MODE{$name} = $mode;
    $client->can_do($name);
}

my $worked = 0;
while ( $worked < $max_jobs && $client->work_once ) {
    $worked++;
}
print "WORKED $worked\n";
if ( $client->is_database_dead( only_hash($client) ) ) {
    print "DEAD the database was marked dead (see stderr with --verbose)\n";
    exit 1;
}
exit 0;
