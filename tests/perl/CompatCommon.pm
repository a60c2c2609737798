# Shared helpers of the Perl side of the compatibility tests (tests/tests/perl_compat.rs).
#
# Every script takes the database as --dsn DBI-DSN [--user U] [--pass P] [--prefix P] (the
# tables' prefix, TheSchwartz's per-database `prefix`) and prints
# machine-readable lines on stdout (diagnostics go to stderr).
package CompatCommon;
use strict;
use warnings;
use Getopt::Long qw(GetOptionsFromArray);
use Exporter 'import';

our @EXPORT_OK = qw(parse_db_opts new_client to_hex from_hex only_hash);

# Parses the database options (and any extra Getopt specs) from @ARGV.
sub parse_db_opts {
    my (%extra) = @_;
    my %o = ( user => '', pass => '' );
    GetOptionsFromArray(
        \@ARGV,
        'dsn=s'  => \$o{dsn},
        'user=s' => \$o{user},
        'pass=s' => \$o{pass},
        'prefix=s' => \$o{prefix},
        'verbose' => \$o{verbose},
        %extra,
    ) or die "bad options\n";
    die "--dsn is required\n" unless $o{dsn};
    return \%o;
}

# A TheSchwartz client over the one database.
sub new_client {
    my ($o) = @_;
    require TheSchwartz;
    return TheSchwartz->new(
        databases => [
            {
                dsn  => $o->{dsn},
                user => $o->{user},
                pass => $o->{pass},
                ( defined $o->{prefix} ? ( prefix => $o->{prefix} ) : () ),
            }
        ],
        verbose   => sub {
            my ($msg) = @_;
            print STDERR "theschwartz: $msg\n" if $o->{verbose};
        },
    );
}

# The client's only database hash.
sub only_hash {
    my ($client) = @_;
    my @h = keys %{ $client->{databases} };
    die "expected exactly one database\n" unless @h == 1;
    return $h[0];
}

sub to_hex {
    my ($bytes) = @_;
    if ( utf8::is_utf8($bytes) ) {
        utf8::downgrade( $bytes, 1 )
            or die "the argument has wide characters (a decoded string, not bytes)\n";
    }
    return unpack( 'H*', $bytes );
}

sub from_hex {
    my ($hex) = @_;
    die "not hex: $hex\n" unless $hex =~ /\A(?:[0-9a-fA-F]{2})*\z/;
    return pack( 'H*', $hex );
}

1;
