#include "apps/cli.h"

int main(int argc, char** argv) { return medassist::apps::RunCli(argc, argv); }
