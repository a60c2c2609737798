#!/usr/bin/perl
# Database chores for the compatibility tests, through DBI.
#
#   dbadmin.pl --dsn DSN [--user U] [--pass P] ping
#   dbadmin.pl --dsn DSN ... create-db NAME      (PostgreSQL / MySQL server DSN)
#   dbadmin.pl --dsn DSN ... drop-db NAME
#   dbadmin.pl --dsn DSN ... apply-schema FILE   (FILE may be gzipped; statements split on ';';
#                                                 with --prefix, tables and indexes get it,
#                                                 as TheSchwartz's own test suite does)
#   dbadmin.pl --dsn DSN ... query SQL           (prints rows, tab-separated, NULL as \N)
#
# Exit status: 0 ok, 2 cannot connect, 1 any other error.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use CompatCommon qw(parse_db_opts);
use DBI;

$| = 1;
my $o = parse_db_opts();
my ( $cmd, @rest ) = @ARGV;
die "usage: dbadmin.pl --dsn DSN [--user U] [--pass P] COMMAND ...\n" unless $cmd;

my $dbh = DBI->connect( $o->{dsn}, $o->{user}, $o->{pass},
    { RaiseError => 0, PrintError => 0, AutoCommit => 1 } );
unless ($dbh) {
    print STDERR "cannot connect to $o->{dsn}: $DBI::errstr\n";
    exit 2;
}
$dbh->{RaiseError} = 1;
my $driver = $dbh->{Driver}{Name};

sub quote_name {
    my ($name) = @_;
    die "unsafe database name $name\n" unless $name =~ /\A[A-Za-z0-9_]+\z/;
    return $driver eq 'mysql' ? "`$name`" : qq{"$name"};
}

if ( $cmd eq 'ping' ) {
    $dbh->do('SELECT 1');
    print "OK $driver\n";
}
elsif ( $cmd eq 'create-db' ) {
    $dbh->do( 'CREATE DATABASE ' . quote_name( $rest[0] ) );
    print "CREATED $rest[0]\n";
}
elsif ( $cmd eq 'drop-db' ) {
    my $q = quote_name( $rest[0] );
    if ( $driver eq 'Pg' ) {
        # Terminate leftover sessions (a pool not yet closed) before dropping.
        $dbh->do( 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()',
            undef, $rest[0] );
    }
    $dbh->do("DROP DATABASE IF EXISTS $q");
    print "DROPPED $rest[0]\n";
}
elsif ( $cmd eq 'apply-schema' ) {
    my $file = $rest[0];
    my $sql;
    if ( $file =~ /\.gz\z/ ) {
        require IO::Uncompress::Gunzip;
        no warnings 'once';
        IO::Uncompress::Gunzip::gunzip( $file => \$sql )
            or die "gunzip $file: $IO::Uncompress::Gunzip::GunzipError\n";
    }
    else {
        open my $fh, '<', $file or die "open $file: $!\n";
        local $/;
        $sql = <$fh>;
    }
    $sql =~ s/--[^\n]*//g;
    if ( defined $o->{prefix} && length $o->{prefix} ) {
        my $p = $o->{prefix};
        $sql =~ s/\b(CREATE\s+TABLE\s+)(\w+)/$1$p$2/gi;
        $sql =~ s/\b(CREATE\s+(?:UNIQUE\s+)?INDEX\s+)(\w+)(\s+ON\s+)(\w+)/$1$p$2$3$p$4/gi;
    }
    my $count = 0;
    for my $stmt ( split /;/, $sql ) {
        next unless $stmt =~ /\S/;
        $dbh->do($stmt);
        $count++;
    }
    print "APPLIED $count\n";
}
elsif ( $cmd eq 'query' ) {
    my $rows = $dbh->selectall_arrayref( $rest[0] );
    for my $row (@$rows) {
        print join( "\t", map { defined $_ ? $_ : '\N' } @$row ), "\n";
    }
}
else {
    die "unknown command $cmd\n";
}
$dbh->disconnect;
exit 0;
