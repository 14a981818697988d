#!/bin/sh
# dev helper: compile and run major $1 on port $2
cd "$(dirname "$0")"
export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
mvn -B -q -Dkestra.major=$1 -Dmaven.repo.local=${M2:-/work/m2rk/repo} process-classes || exit 1
cd target/$1 && PORT=$2 exec $JAVA_HOME/bin/java -cp classes:$(cat classpath.txt) io.mfo.realkestra.Main
