#!/usr/bin/perl
# Hash-heavy Perl for Benchmarks/programs/run.sh: builds, looks up and deletes
# many string keys, nested hashes of arrays, sorts and joins; prints a checksum
# line that run.sh compares with the glibc run's.
#   perl perl-hashes.pl [SCALE (1)]
use strict;
use warnings;

my $scale = shift // 1;
die "perl-hashes.pl: SCALE must be a positive integer, not '$scale'\n" unless $scale =~ /^[1-9][0-9]*$/;
my $n = 120_000 * $scale;
my $sum = 0;

for my $round (1 .. 3) {
    # A flat hash of string keys to strings.
    my %h;
    for my $i (1 .. $n) { $h{"key-$round-$i"} = "value " . ($i * 7 % 1000) . " " x ($i % 17); }
    # Lookups, hits and misses.
    for my $i (1 .. $n) {
        $sum += length($h{"key-$round-$i"});
        $sum += 1 if exists $h{"miss-$i"};
    }
    # Nested: a hash of hashes of arrays, keyed by buckets.
    my %tree;
    for my $i (1 .. $n / 2) {
        my $b = "bucket" . ($i % 997);
        push @{ $tree{$b}{ "sub" . ($i % 13) } }, { id => $i, name => "n$i", tags => [ $i % 3, $i % 5 ] };
    }
    for my $b (sort keys %tree) {
        for my $s (sort keys %{ $tree{$b} }) {
            my $list = $tree{$b}{$s};
            $sum += scalar(@$list) + $list->[-1]{id} + scalar(@{ $list->[0]{tags} });
        }
    }
    # Delete every other key, then rebuild a string from what is left.
    delete $h{"key-$round-$_"} for grep { $_ % 2 } 1 .. $n;
    my $joined = join ",", map { substr($_, 0, 6) } sort keys %h;
    $sum += length($joined) + scalar(keys %h);
    # Word counting over generated text.
    my %count;
    $count{$_}++ for split / /, join " ", map { "w" . ($_ * 31 % 5003) } 1 .. $n;
    $sum += scalar(keys %count) + $count{w0};
}
print "perl checksum $sum\n";
