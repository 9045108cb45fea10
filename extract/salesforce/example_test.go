package salesforce_test

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
	"closedloop/extract/salesforce"
)

// Reading a folder of Salesforce Data Export CSVs. API mode takes InstanceURL and
// AccessToken (or ClientID and ClientSecret) instead of Dir.
func ExampleNew() {
	c := extract.NewCollector(memory.DefaultAllocator)
	defer c.Release()
	e := salesforce.New(salesforce.Config{Spec: "salesforce:testdata/export", Dir: "testdata/export", Currency: "USD"})
	if err := e.Extract(context.Background(), c); err != nil {
		fmt.Println(err)
		return
	}
	for _, table := range e.Tables() {
		fmt.Println(table, c.Rows(e.Name(), table))
	}
	fmt.Println("rejected", len(c.Rejections()), "skipped", e.Skipped())
	// Output:
	// crm_contacts 4
	// crm_deals 3
	// crm_deal_contacts 4
	// crm_deal_stages 7
	// events 8
	// crm_accounts 2
	// rejected 6 skipped 9
}
